using KvmOcf.Drbd;
using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;
using static KvmOcf.DrbdDevice.DrbdDeviceAgent;

namespace KvmOcf.DrbdDevice;

/// <summary>One DRBD resource in one action. What DRBD's kernel module says is the only truth: the
/// resource's state is read from its structured output (<see cref="DrbdKernel"/>); the
/// configuration matters to start only. Every drbdadm, drbdsetup and pacemaker call is bounded by
/// the action's deadline (they hang in the field, LINBIT/drbd#51).</summary>
internal sealed partial class DrbdResource
{
    private readonly OcfContext ctx;
    private readonly string Name;
    private readonly DrbdKernel Kernel;

    public DrbdResource(OcfContext context)
    {
        ctx = context;
        Name = ctx.Get(Resource);
        Kernel = new DrbdKernel(command => ctx.Run(command));
    }

    private string ConfigFile => ctx.Get(DrbdDeviceAgent.ConfigFile);

    // ---- state -------------------------------------------------------------------------------

    /// <summary>The resource as the kernel has it; null when DRBD has no such resource here (or no
    /// module is loaded: then nothing of DRBD runs). A failure to ask is an exception, never null.</summary>
    private ResourceStatus? Status() => Kernel.Status(Name);

    private static string Describe(ResourceStatus s) => s.ToString();

    // ---- monitor -----------------------------------------------------------------------------

    public OcfResult Monitor()
    {
        var status = Status();
        if (status is null)
        {
            // a probe that finds it stopped leaves the score alone (pacemaker may be about to start it)
            if (!ctx.IsProbe) Score(ScoreDecision.Remove("not running"));
            return OcfResult.NotRunning($"DRBD resource {Name} is not configured here");
        }
        if (HalfConfigured(status) is { } half) return OcfResult.Generic(half);
        UpdateScore(status);
        ctx.Log.LogDebug("{Status}", Describe(status));
        return status.IsPrimary ? OcfExitCode.RunningPromoted : OcfResult.Success;
    }

    /// <summary>A resource the kernel knows without a role or without any volume is neither running
    /// nor stopped (a start or stop was interrupted): an error, so pacemaker stops it cleanly.</summary>
    private string? HalfConfigured(ResourceStatus s) =>
        !s.IsConfigured ? $"DRBD resource {Name} exists but is in role {s.Role}"
        : s.Volumes.Count == 0 ? $"DRBD resource {Name} exists but has no volume (half configured)"
        : null;

    // ---- promotion score ---------------------------------------------------------------------

    private void UpdateScore(ResourceStatus status)
    {
        var decision = Promotion.Decide(status.Summary, Scores, ctx.Get(RemoveMasterScoreIfPeerPrimary) is var p ? PeerPolicy(p)!.Value : default,
            ctx.Meta.PromotedMax ?? 1, ctx.Get(UnfenceIfAllUpToDate), () => PacemakerPromotedElsewhere());
        Score(decision);
        if (decision.Unfence) Unfence();
    }

    private ScoreValues Scores => ScoreValues.TryParse(ctx.Get(AdjustMasterScore), out var v, out _) ? v : ScoreValues.Default;

    /// <summary>Writes (or removes) the promotion score when it differs from what the CIB has. A
    /// score that cannot be written is logged: DRBD itself refuses to promote data that is not
    /// good enough, and failing the action would not bring attrd back.</summary>
    private void Score(ScoreDecision decision)
    {
        if (ctx.Instance.Length == 0)
        {
            ctx.Log.LogDebug("no OCF_RESOURCE_INSTANCE (run by hand?): promotion score not written ({Decision})", decision);
            return;
        }
        try
        {
            bool wrote = decision.Action switch
            {
                ScoreDecision.Kind.Set => ctx.Cluster.SetPromotionScore(decision.Value),
                ScoreDecision.Kind.Remove => ctx.Cluster.RemovePromotionScore(),
                _ => false,
            };
            if (wrote) ctx.Log.LogInformation("promotion score of {Resource}: {Decision}", Name, decision);
            else ctx.Log.LogDebug("promotion score of {Resource} unchanged ({Decision})", Name, decision);
        }
        catch (ClusterUnavailableException e) { ctx.Log.LogDebug("promotion score not written: {Reason}", e.Reason); }
        catch (OperationException e) { ctx.Log.LogWarning("promotion score of {Resource} not written ({Decision}): {Reason}", Name, decision, e.Reason); }
    }

    /// <summary>Whether pacemaker shows this resource promoted on another node
    /// (<c>crm_resource --locate --output-as=xml</c>, not its text: LINBIT/drbd-utils 0a014f29).</summary>
    private bool PacemakerPromotedElsewhere()
    {
        var instance = ctx.Instance;
        int colon = instance.IndexOf(':');
        var r = ctx.TryRun(new Command("crm_resource").WithArguments("--resource", colon > 0 ? instance[..colon] : instance, "--locate", "--output-as=xml"),
            TimeSpan.FromSeconds(10));
        if (r is null || !r.Succeeded) return true;   // cannot tell: do not treat the Primary as unexpected
        try
        {
            return Xml.Parse(r.StandardOutput).Descendants("node")
                .Where(n => n.Attribute("state") is "promoted" or "Promoted" or "Master" || n.Attribute("role") is "Promoted" or "Master")
                .Select(n => n.Attribute("name") ?? n.Text.Trim())
                .Any(node => !IsMe(node));
        }
        catch (FormatException) { return true; }
    }

    // ---- node names --------------------------------------------------------------------------

    private string? _uname;
    /// <summary>This node as DRBD's configuration names it (uname -n).</summary>
    private string Uname => _uname ??= File.ReadAllText("/proc/sys/kernel/hostname").Trim();
    /// <summary>This node as pacemaker names it.</summary>
    private string PacemakerName => ctx.Meta.OnNode ?? Uname;
    private bool IsMe(string node) => NodeNames.Same(node, PacemakerName) || NodeNames.Same(node, Uname);

    // ---- tools -------------------------------------------------------------------------------

    private bool? _stacked;

    /// <summary>drbdadm with the configuration file (and --stacked for a stacked resource).</summary>
    private Command Adm(params string[] arguments)
    {
        var command = new Command("drbdadm").WithArguments("-c", ConfigFile);
        if (_stacked == true) command = command.WithArguments("--stacked");
        return command.WithArguments(arguments);
    }

    /// <summary>Runs drbdadm; the result, whatever its exit code (callers decide what a failure
    /// means). Never the output in an exception: drbdadm's stdout may hold configuration.</summary>
    private CommandResult RunAdm(params string[] arguments)
    {
        var r = ctx.Run(Adm(arguments));
        if (!r.Succeeded)
            ctx.Log.LogWarning("drbdadm {Arguments} exited {Code}: {Error}", string.Join(' ', arguments), r.ExitCode, OneLine.Of(r.StandardError, 300));
        return r;
    }

    private static string Why(CommandResult r) =>
        OneLine.Of(r.StandardError.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0) ?? $"exit code {r.ExitCode}", 150);

    /// <summary>The resource's configuration for this host (drbdadm dump-xml); finds out whether it
    /// is a stacked resource. Null with <paramref name="problem"/> when it is not in the configuration.</summary>
    private DrbdConfig? Config(out string problem)
    {
        problem = "";
        if (!File.Exists(ConfigFile)) { problem = $"the DRBD configuration {ConfigFile} does not exist"; return null; }
        var r = ctx.Run(Adm("dump-xml", Name));
        if (!r.Succeeded && _stacked is null)
        {
            _stacked = true;
            var stacked = ctx.Run(Adm("dump-xml", Name));
            if (stacked.Succeeded) r = stacked; else _stacked = false;
        }
        if (!r.Succeeded) { problem = $"DRBD resource {Name} is not in {ConfigFile} for this host: {Why(r)}"; return null; }
        try { return DrbdConfig.Parse(r.StandardOutput, Name); }
        catch (FormatException e) { problem = $"cannot read the configuration of {Name} (drbdadm dump-xml): {e.Message}"; return null; }
    }

    /// <summary>The module's version: from /proc/drbd when it is loaded, else modinfo.</summary>
    private DrbdVersion? ModuleVersion()
    {
        if (Kernel.Proc() is { Version: { } loaded }) return loaded;
        var r = ctx.TryRun(new Command("modinfo").WithArguments("-F", "version", "drbd"), TimeSpan.FromSeconds(10));
        return r is { Succeeded: true } && DrbdVersion.TryParse(r.StandardOutput.Trim(), out var v) ? v : null;
    }

    /// <summary>A version requirement explicitly set to the empty string means "do not check" (the
    /// runtime reads an empty value as the default).</summary>
    private string? Requirement(StringParameter p) =>
        ctx.Environment[OcfContext.EnvironmentName(p)] is "" ? null : ctx.Get(p);

    /// <summary>What must hold on this host: the tools, a module of an acceptable version, the
    /// resource in the configuration; null when all is well.</summary>
    private OcfResult? HostProblem(bool needModuleVersion) =>
        ToolsProblem()
        ?? (needModuleVersion ? ModuleProblem() : null)
        ?? (Config(out var problem) is not { } config ? OcfResult.Installed(problem) : ConfigProblem(config));

    private static OcfResult? ToolsProblem()
    {
        foreach (var tool in new[] { "drbdadm", "drbdsetup" })
            if (Command.Find(tool) is null) return OcfResult.Installed($"{tool} is not installed (drbd-utils)");
        return null;
    }

    /// <summary>A DRBD module of a version this resource accepts, and clone limits it can meet.</summary>
    private OcfResult? ModuleProblem()
    {
        if (ModuleVersion() is not { } version) return OcfResult.Installed("no DRBD kernel module (not loaded, modinfo drbd found none)");
        if (Requirement(RequireVersionGe) is { } ge && DrbdVersion.TryParse(ge, out var min) && version < min)
            return OcfResult.Installed($"the DRBD kernel module is {version}; require_drbd_module_version_ge is {ge}");
        if (Requirement(RequireVersionLt) is { } lt && DrbdVersion.TryParse(lt, out var max) && version >= max)
            return OcfResult.Installed($"the DRBD kernel module is {version}; require_drbd_module_version_lt is {lt}");
        if (!version.Is9OrLater && ctx.Meta.CloneMax > 2)
            return OcfResult.Configured($"meta attribute clone-max is {ctx.Meta.CloneMax}; DRBD {version} has one peer, so at most 2");
        return null;
    }

    /// <summary>What the configuration must allow for the clone's meta attributes.</summary>
    private OcfResult? ConfigProblem(DrbdConfig config)
    {
        if ((ctx.Meta.PromotedMax ?? 1) > 1 && !config.AllowsTwoPrimaries)
            return OcfResult.Configured($"promoted-max is {ctx.Meta.PromotedMax}, but DRBD resource {Name} does not allow-two-primaries");
        return null;
    }

    public OcfResult ValidateHost() => HostProblem(needModuleVersion: true) ?? OcfResult.Success;
}
