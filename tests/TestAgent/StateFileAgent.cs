using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;

namespace KvmOcf.TestAgent;

/// <summary>A resource that is a state file, like ocf:heartbeat:Dummy, with a parameter of every
/// type and a knob for each failure the tests provoke. Installed as ocf:kvmocf:TestAgent by the
/// tests only.</summary>
public sealed class StateFileAgent : ResourceAgent
{
    public static readonly StringParameter State = new("state")
    {
        Required = true,
        UniqueGroup = "state",
        FormerNames = ["statefile"],
        ShortDescription = "State file",
        LongDescription = "Absolute path of the file whose existence is this resource's state.",
        Check = path => Path.IsPathFullyQualified(path) ? null : "is not an absolute path",
    };

    public static readonly StringParameter Payload = new("payload")
    {
        Reloadable = true,
        ShortDescription = "Payload",
        LongDescription = "Text written into the state file; reload-agent applies a change without a restart.",
    };

    public static readonly SelectParameter Check = new("check", "exists", "owned")
    {
        Default = "exists",
        ShortDescription = "What monitor checks",
        LongDescription = "exists: the state file exists. owned: it also names this resource instance.",
    };

    public static readonly IntegerParameter PromotionScore = new("promotion_score")
    {
        Default = 10,
        Minimum = -1_000_000,
        Maximum = 1_000_000,
        ShortDescription = "Promotion score",
        LongDescription = "Score set with crm_attribute --promotion on start and monitor when run as a promotable clone.",
    };

    public static readonly IntegerParameter Units = new("utilization")
    {
        Default = 0,
        Minimum = 0,
        Maximum = 1_000_000,
        ShortDescription = "Utilization units",
        LongDescription = "When above 0, monitor keeps the resource's utilization attribute test_units at this value.",
    };

    public static readonly TimeParameter StartDelay = new("start_delay")
    {
        Default = TimeSpan.Zero,
        ShortDescription = "Start delay",
        LongDescription = "How long start takes. Start gives up with an error at its deadline.",
    };

    public static readonly BooleanParameter FailStart = new("fail_start")
    {
        ShortDescription = "Fail start",
        LongDescription = "Start fails with an error.",
    };

    public static readonly StringParameter FaultFile = new("fault_file")
    {
        ShortDescription = "Fault file",
        LongDescription = "When this file exists, monitor fails and its first line is the exit reason.",
        Check = path => Path.IsPathFullyQualified(path) ? null : "is not an absolute path",
    };

    public static readonly StringParameter Secret = new("secret")
    {
        Secret = true,
        MaxLength = 256,
        ShortDescription = "A secret",
        LongDescription = "Never shown. Start stores its SHA-256, computed by sha256sum reading it from stdin.",
    };

    public override string Name => "TestAgent";
    public override string ShortDescription => "State-file test agent for KvmOcf's runtime";
    public override string LongDescription =>
        "A resource whose state is a file, used by KvmOcf's tests to take the OCF runtime through pacemaker, pcs, crmsh and ocf-tester.";

    public override IReadOnlyList<Parameter> Parameters =>
        [State, Payload, Check, PromotionScore, Units, StartDelay, FailStart, FaultFile, Secret];

    public override IReadOnlyList<OcfAction> Actions =>
    [
        new("start", TimeSpan.FromSeconds(20), Start),
        new("stop", TimeSpan.FromSeconds(20), Stop),
        new("monitor", TimeSpan.FromSeconds(20), Monitor) { Interval = TimeSpan.FromSeconds(10), Depth = 0 },
        new("promote", TimeSpan.FromSeconds(20), Promote),
        new("demote", TimeSpan.FromSeconds(20), Demote),
        new("notify", TimeSpan.FromSeconds(20), Notify),
        new("migrate_to", TimeSpan.FromSeconds(20), MigrateTo),
        new("migrate_from", TimeSpan.FromSeconds(20), MigrateFrom),
        new("reload-agent", TimeSpan.FromSeconds(20), ReloadAgent),
    ];

    public override OcfResult ValidateHost(OcfContext ctx)
    {
        var dir = Path.GetDirectoryName(ctx.Get(State))!;
        if (!Directory.Exists(dir)) return OcfResult.Args($"directory {dir} does not exist on this host");
        return OcfResult.Success;
    }

    private enum Role { Stopped, Started, Promoted }

    private OcfResult Start(OcfContext ctx)
    {
        if (ValidateHost(ctx) is { IsSuccess: false } invalid) return invalid;
        if (ctx.Get(FailStart)) return OcfResult.Generic("start fails because fail_start is set");
        if (ReadRole(ctx) != Role.Stopped) return OcfResult.Success;

        var delay = ctx.Get(StartDelay);
        if (!ctx.Deadline.Sleep(delay)) return OcfResult.Generic($"start did not complete within its deadline ({TimeParameter.FormatDuration(delay)} needed)");

        string digest = "";
        if (ctx.IsSet(Secret))
        {
            var sum = ctx.Run(new Command("sha256sum").WithStandardInput(ctx.Get(Secret))).ThrowIfFailed("hashing the secret");
            digest = sum.StandardOutput.Split(' ')[0];
        }
        WriteState(ctx, Role.Started, digest);
        UpdatePromotionScore(ctx);
        ctx.Log.LogInformation("started");
        return OcfResult.Success;
    }

    private OcfResult Stop(OcfContext ctx)
    {
        var path = ctx.Get(State);
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return OcfResult.Generic($"cannot remove {path}: {e.Message}");
        }
        return ReadRole(ctx) == Role.Stopped ? OcfResult.Success : OcfResult.Generic($"{path} is still there");
    }

    private OcfResult Monitor(OcfContext ctx)
    {
        var role = ReadRole(ctx);
        if (role == Role.Stopped) return OcfResult.NotRunning();
        if (ctx.Get(Check) == "owned" && ReadLines(ctx)[0] != ctx.Instance)
            return OcfResult.Generic($"state file belongs to '{OneLine.Of(ReadLines(ctx)[0], 60)}'");
        if (ctx.IsSet(FaultFile) && File.Exists(ctx.Get(FaultFile)))
        {
            var line = File.ReadLines(ctx.Get(FaultFile)).FirstOrDefault();
            return OcfResult.Generic(string.IsNullOrWhiteSpace(line) ? "fault file present" : line);
        }
        if (!ctx.IsProbe)
        {
            if (role == Role.Started) UpdatePromotionScore(ctx);
            UpdateUtilization(ctx);
        }
        return role == Role.Promoted ? OcfExitCode.RunningPromoted : OcfExitCode.Success;
    }

    private OcfResult Promote(OcfContext ctx)
    {
        if (ReadRole(ctx) == Role.Stopped) return OcfResult.Generic("cannot promote: not running");
        WriteState(ctx, Role.Promoted);
        return OcfResult.Success;
    }

    private OcfResult Demote(OcfContext ctx)
    {
        if (ReadRole(ctx) == Role.Stopped) return OcfResult.Generic("cannot demote: not running");
        WriteState(ctx, Role.Started);
        return OcfResult.Success;
    }

    private static OcfResult Notify(OcfContext ctx)
    {
        if (ctx.Meta.Notification is { } n)
            ctx.Log.LogInformation("notify {Type}-{Operation}: start [{Start}] stop [{Stop}]", n.Type, n.Operation,
                string.Join(' ', n.Start.Select(p => $"{p.Resource}@{p.Node}")), string.Join(' ', n.Stop.Select(p => $"{p.Resource}@{p.Node}")));
        return OcfResult.Success;
    }

    private OcfResult MigrateTo(OcfContext ctx)
    {
        if (ReadRole(ctx) == Role.Stopped) return OcfResult.Generic("cannot migrate: not running");
        ctx.Log.LogInformation("migrating to {Target}", ctx.Meta.MigrateTarget ?? "?");
        return OcfResult.Success;
    }

    private OcfResult MigrateFrom(OcfContext ctx)
    {
        if (ReadRole(ctx) == Role.Stopped) WriteState(ctx, Role.Started);
        return OcfResult.Success;
    }

    private OcfResult ReloadAgent(OcfContext ctx)
    {
        var role = ReadRole(ctx);
        if (role != Role.Stopped) WriteState(ctx, role);
        return OcfResult.Success;
    }

    private static void UpdatePromotionScore(OcfContext ctx)
    {
        if (!ctx.Meta.IsPromotable) return;
        try { ctx.Cluster.SetPromotionScore(ctx.Get(PromotionScore)); }
        catch (OperationException e) { ctx.Log.LogWarning("promotion score not updated: {Reason}", e.Reason); }
    }

    private static void UpdateUtilization(OcfContext ctx)
    {
        var units = ctx.Get(Units);
        if (units == 0) return;
        try
        {
            if (ctx.Cluster.SetUtilization("test_units", units.ToString())) ctx.Log.LogInformation("utilization test_units set to {Units}", units);
        }
        catch (OperationException e) { ctx.Log.LogWarning("utilization not updated: {Reason}", e.Reason); }
    }

    /// <summary>Stopped only when the file is known to be absent; any other failure to read it is
    /// an error, never "not running".</summary>
    private static Role ReadRole(OcfContext ctx)
    {
        var lines = ReadLines(ctx);
        if (lines.Length == 0) return Role.Stopped;
        return lines.Length > 1 && lines[1] == "promoted" ? Role.Promoted : Role.Started;
    }

    private static string[] ReadLines(OcfContext ctx)
    {
        var path = ctx.Get(State);
        try { return File.ReadAllLines(path) is { Length: > 0 } lines ? lines : [""]; }
        catch (FileNotFoundException) { return []; }
        catch (DirectoryNotFoundException) { return []; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OcfException(OcfExitCode.ErrGeneric, $"cannot read state file {path}: {e.Message}");
        }
    }

    private static void WriteState(OcfContext ctx, Role role, string? digest = null)
    {
        var path = ctx.Get(State);
        var old = ReadLines(ctx);
        digest ??= old.Length > 3 ? old[3] : "";
        var temp = path + ".tmp";
        File.WriteAllLines(temp, [ctx.Instance, role == Role.Promoted ? "promoted" : "started", ctx.Get(Payload), digest]);
        File.Move(temp, path, overwrite: true);
    }
}
