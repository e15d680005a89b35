using KvmOcf.Libvirt;
using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;
using static KvmOcf.VirtualDomain.VirtualDomainAgent;

namespace KvmOcf.VirtualDomain;

/// <summary>One VirtualDomain resource in one action: who the guest is, and the lifecycle
/// operations on it. The rule throughout: "not running" only when it is known.</summary>
internal sealed partial class Guest(OcfContext ctx)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);
    private readonly ResourceState _state = ResourceState.For(ctx);
    private DomainConfig? _config;

    private string Uri => ctx.IsSet(HypervisorUri) ? ctx.Get(HypervisorUri)
        : ctx.Environment.NonEmpty("LIBVIRT_DEFAULT_URI") ?? "qemu:///system";

    /// <summary>Local hypervisors run their guests' qemu processes here, where /proc can see them.</summary>
    private bool IsLocal => Uri.Contains(":///", StringComparison.Ordinal);

    // ---- identity --------------------------------------------------------------------------------

    /// <summary>Which domain this resource is: the domain parameter, else the name cached when the
    /// config was last read on this node, else the config file itself. Monitors and stops prefer
    /// the first two so that a config on unreachable storage cannot stall or fool them.</summary>
    private DomainId Identity()
    {
        if (ctx.IsSet(DomainName))
        {
            var given = ctx.Get(DomainName);
            return Guid.TryParseExact(given, "D", out _) || Guid.TryParseExact(given, "N", out _) ? new DomainId(null, given) : new DomainId(given, null);
        }
        if (_state["name"] is { Length: > 0 } cached && _state["config"] == ctx.Get(Config)) return new DomainId(cached, null);
        var config = LoadConfig() ?? throw new OcfException(OcfExitCode.ErrGeneric,
            $"cannot tell which domain this is: {ctx.Get(Config)} is unreadable and no name is known (set the domain parameter)");
        return new DomainId(config.Name, null);
    }

    /// <summary>The parsed config, or null when it cannot be read on this node.</summary>
    private DomainConfig? LoadConfig()
    {
        if (_config is not null) return _config;
        var path = ctx.Get(Config);
        string xml;
        try { xml = ReadBounded(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ctx.Log.LogWarning("cannot read {Config}: {Error}", path, e.Message);
            return null;
        }
        try { _config = DomainConfig.Parse(xml); }
        catch (FormatException e) { throw new OcfException(OcfExitCode.ErrArgs, $"{path} is not a usable domain XML: {e.Message}"); }
        _state.Update(("config", path), ("name", _config.Name), ("uuid", _config.Uuid), ("guest_agent", _config.HasGuestAgent ? "1" : "0"));
        return _config;
    }

    /// <summary>Reads a file on a worker thread: a config on a hung network filesystem must not hang the agent.</summary>
    private string ReadBounded(string path) =>
        ctx.Deadline.AtMost(TimeSpan.FromSeconds(10)).Run($"reading {path}", () => File.ReadAllText(path));

    // ---- status ----------------------------------------------------------------------------------

    private enum Verdict { Running, Stopped, Failed }

    private readonly record struct Status(Verdict Verdict, string Why, GuestState? State = null);

    /// <summary>Whether the guest runs here, from libvirt; "stopped" is double-checked against the
    /// qemu process table; with libvirtd unreachable, only a probe may decide, from that table.</summary>
    private Status CurrentStatus(DomainId id, bool withInfo, Deadline deadline)
    {
        GuestState? state;
        try { state = GuestStateQuery.Query(Uri, id, withInfo, deadline.AtMost(Half(deadline))); }
        catch (PeerUnreachableException e)
        {
            if (!ctx.IsProbe || !IsLocal) return new Status(Verdict.Failed, $"cannot determine the state of {id}: {e.Reason}");
            var pids = QemuPids(id, deadline);
            return pids.Count > 0
                ? new Status(Verdict.Running, $"{id} runs (qemu pid {pids[0]}) but libvirtd cannot be asked: {e.Reason}")
                : new Status(Verdict.Stopped, $"no qemu process runs {id} and libvirtd cannot be asked: {e.Reason}");
        }

        switch (state?.State)
        {
            case null or DomainState.Shutoff:
                var why = state is null ? $"{id} is not defined in libvirt" : $"{id} is shut off";
                if (IsLocal && QemuPids(id, deadline) is [var pid, ..])
                    return new Status(Verdict.Failed, $"libvirt says {why}, but qemu process {pid} runs it");
                return new Status(Verdict.Stopped, why, state);
            case DomainState.Running or DomainState.Blocked or DomainState.Paused or DomainState.PmSuspended or DomainState.Shutdown:
                return new Status(Verdict.Running, $"{id} is {Describe(state)}", state);
            case DomainState.Crashed:
                return new Status(Verdict.Failed, $"{id} has crashed", state);
            default:
                return new Status(Verdict.Failed, $"libvirt reports no state for {id}", state);
        }
    }

    private static string Describe(GuestState state) => state.State switch
    {
        DomainState.Paused when state.Reason == GuestState.PausedIoError => "paused after an I/O error",
        DomainState.Shutdown => "shutting down",
        DomainState.PmSuspended => "suspended by the guest",
        var s => s.ToString().ToLowerInvariant(),
    };

    private static TimeSpan Half(Deadline deadline) => deadline.Remaining / 2;

    /// <summary>qemu processes running the guest, read on a worker thread (reading a process's
    /// cmdline can block behind its memory map, e.g. on hung storage).</summary>
    private List<int> QemuPids(DomainId id, Deadline deadline)
    {
        var name = id.Name ?? _state["name"];
        var uuid = id.Uuid ?? _state["uuid"];
        try { return deadline.Run("reading the process table", () => QemuProcesses.Find(name, uuid)); }
        catch (DeadlineExceededException) { throw new OcfException(OcfExitCode.ErrGeneric, $"could not read the process table in time to check on {id}"); }
    }

    // ---- actions ---------------------------------------------------------------------------------

    public OcfResult Monitor()
    {
        var id = Identity();
        bool full = !ctx.IsProbe;
        var status = CurrentStatus(id, withInfo: full && WantsUtilization, ctx.Deadline);
        switch (status.Verdict)
        {
            case Verdict.Stopped: return new OcfResult(OcfExitCode.NotRunning, status.Why);
            case Verdict.Failed: return OcfResult.Generic(status.Why);
        }
        if (!full) return OcfResult.Success;

        if (RunMonitorScripts(id) is { } scriptFailure) return OcfResult.Generic(scriptFailure);
        if (ctx.CheckLevel >= 10 && GuestAgentProblem(id) is { } agentFailure) return OcfResult.Generic(agentFailure);
        if (status.State is { } state) UpdateUtilization(state);
        return status.State is { State: DomainState.Paused, Reason: GuestState.PausedIoError }
            ? new OcfResult(OcfExitCode.Degraded, status.Why)
            : OcfResult.Success;
    }

    public OcfResult ValidateHost()
    {
        var path = ctx.Get(Config);
        try { DomainConfig.Parse(ReadBounded(path)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return OcfResult.Args($"Configuration file {path} does not exist or not readable.");
        }
        catch (FormatException e) { return OcfResult.Args($"{path} is not a usable domain XML: {e.Message}"); }
        foreach (var (needed, tool) in RequiredTools())
            if (needed && Command.Find(tool) is null) return OcfResult.Installed($"{tool} is needed but not installed");
        foreach (var script in MonitorScriptList())
            if (Command.Find(script) is null) return OcfResult.Args($"monitor script {script} is not an executable here");
        if (!System.Runtime.InteropServices.NativeLibrary.TryLoad("libvirt.so.0", out _))
            return OcfResult.Installed("libvirt (libvirt.so.0) is not installed");
        return OcfResult.Success;
    }

    private IEnumerable<(bool, string)> RequiredTools() =>
    [
        (ctx.Get(SyncConfigOnStop), "csync2"),
        (ctx.IsSet(BackingFile), "qemu-img"),
        (ctx.IsSet(CopyInDirs), "virt-copy-in"),
    ];

    // ---- monitor details -------------------------------------------------------------------------

    private IEnumerable<string> MonitorScriptList() =>
        ctx.Get(MonitorScripts).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Runs each monitor script (bounded); the first failure, or null.</summary>
    private string? RunMonitorScripts(DomainId id)
    {
        foreach (var script in MonitorScriptList())
        {
            CommandResult result;
            try { result = ctx.Run(new Command(script)); }
            catch (CommandTimeoutException) { return $"monitor script {Path.GetFileName(script)} for {id} did not finish in time"; }
            if (!result.Succeeded)
                return $"monitor script {Path.GetFileName(script)} returned {result.ExitCode}: {result.Summary}";
        }
        return null;
    }

    /// <summary>Depth 10: a guest with a guest agent must answer a ping. Null when it does (or has no agent).</summary>
    private string? GuestAgentProblem(DomainId id)
    {
        var hasAgent = _state["guest_agent"] ?? (LoadConfig()?.HasGuestAgent == true ? "1" : "0");
        if (hasAgent != "1")
        {
            ctx.Log.LogDebug("{Domain} has no guest agent channel; check level 10 checks nothing more", id);
            return null;
        }
        if (long.TryParse(_state["started"], out var started) &&
            DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeSeconds(started) < ctx.Get(GuestAgentStartup))
        {
            ctx.Log.LogDebug("{Domain} started recently; its guest agent need not answer yet", id);
            return null;
        }
        var timeout = ctx.Get(GuestAgentTimeout);
        // libvirt first syncs with the agent on its own (up to 5 s) before sending the command
        var budget = ctx.Deadline.AtMost(timeout + TimeSpan.FromSeconds(6));
        try
        {
            return GuestStateQuery.PingGuestAgent(Uri, id, timeout, budget) is { } why
                ? $"guest agent of {id} does not answer: {why}"
                : null;
        }
        catch (PeerUnreachableException) when (!ctx.Deadline.Expired)
        {
            return $"guest agent of {id} did not answer within {TimeParameter.FormatDuration(timeout)} (guest hung?)";
        }
    }

    private bool WantsUtilization =>
        ctx.Get(AutosetCpu) || ctx.Get(AutosetHostMemory) || ctx.Get(AutosetHvMemory) ||
        ctx.Get(UnsetCpu) || ctx.Get(UnsetHostMemory) || ctx.Get(UnsetHvMemory);

    /// <summary>Keeps the utilization attributes in step with the guest, writing only what changed:
    /// the values last written are cached on this node, so a steady guest costs no CIB traffic
    /// (the anchor agent ran up to six crm_resource calls on every monitor).</summary>
    private void UpdateUtilization(GuestState state)
    {
        var memoryMiB = (state.MaxMemoryKiB / 1024).ToString();
        foreach (var (attribute, set, unset, value) in new[]
                 {
                     ("cpu", AutosetCpu, UnsetCpu, state.VirtCpus.ToString()),
                     ("host_memory", AutosetHostMemory, UnsetHostMemory, memoryMiB),
                     ("hv_memory", AutosetHvMemory, UnsetHvMemory, memoryMiB),
                 })
        {
            var wanted = ctx.Get(set) ? value : ctx.Get(unset) ? "" : null;
            if (wanted is null || _state["utilization." + attribute] == wanted) continue;
            try
            {
                if (wanted.Length > 0) ctx.Cluster.SetUtilization(attribute, wanted);
                else ctx.Cluster.RemoveUtilization(attribute);
                _state.Update(("utilization." + attribute, wanted));
            }
            catch (ClusterUnavailableException e) { ctx.Log.LogDebug("utilization {Attribute} not updated: {Reason}", attribute, e.Reason); }
            catch (OcfException e) { ctx.Log.LogWarning("utilization {Attribute} not updated: {Reason}", attribute, e.Reason); }
        }
    }
}
