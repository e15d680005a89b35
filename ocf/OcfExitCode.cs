namespace KvmOcf.Ocf;

/// <summary>OCF 1.1 exit codes, with pacemaker's degraded extensions (190/191).</summary>
public enum OcfExitCode
{
    Success = 0,
    ErrGeneric = 1,
    /// <summary>Parameters are invalid on this host (pacemaker bans the node).</summary>
    ErrArgs = 2,
    ErrUnimplemented = 3,
    ErrPerm = 4,
    /// <summary>Software this agent needs is missing on this host.</summary>
    ErrInstalled = 5,
    /// <summary>Parameters are invalid everywhere (fatal: pacemaker stops the resource cluster-wide).</summary>
    ErrConfigured = 6,
    /// <summary>Cleanly stopped. Only ever from a monitor that <em>knows</em>; in doubt, ErrGeneric.</summary>
    NotRunning = 7,
    RunningPromoted = 8,
    FailedPromoted = 9,
    Degraded = 190,
    DegradedPromoted = 191,
}

/// <summary>The outcome of an action: an exit code and, for failures, the one-line reason
/// pacemaker shows as the operation's exit reason.</summary>
public readonly record struct OcfResult(OcfExitCode Code, string? Reason = null)
{
    public static OcfResult Success => new(OcfExitCode.Success);
    /// <summary>Only a monitor that <em>knows</em> answers this (see <see cref="ExitCodeRules"/>).</summary>
    public static OcfResult NotRunning(string? reason = null) => new(OcfExitCode.NotRunning, reason);
    public static OcfResult Degraded(string reason) => new(OcfExitCode.Degraded, reason);

    public static OcfResult Generic(string reason) => new(OcfExitCode.ErrGeneric, reason);
    public static OcfResult Configured(string reason) => new(OcfExitCode.ErrConfigured, reason);
    public static OcfResult Args(string reason) => new(OcfExitCode.ErrArgs, reason);
    public static OcfResult Installed(string reason) => new(OcfExitCode.ErrInstalled, reason);

    public static implicit operator OcfResult(OcfExitCode code) => new(code);

    /// <summary>The one table from the core's failures to OCF exit codes: software missing here is
    /// OCF_ERR_INSTALLED, everything else (failed, timed out, unreachable, refused) OCF_ERR_GENERIC.</summary>
    public static OcfResult Of(OperationException failure) => failure switch
    {
        OcfException ocf => ocf.Result,
        { Kind: FailureKind.NotFound } => Installed(failure.Reason),
        _ => Generic(failure.Reason),
    };

    public bool IsSuccess => Code == OcfExitCode.Success;
    public override string ToString() => Reason is null ? Code.ToString() : $"{Code}: {Reason}";
}

/// <summary>Ends the current action with <see cref="Code"/> and a one-line reason: for agent code
/// that knows which OCF answer it means. Failures of the core (a command that timed out, a tool
/// missing, a daemon that does not answer) are <see cref="OperationException"/>s, turned into exit
/// codes by <see cref="OcfResult.Of(OperationException)"/>.</summary>
public class OcfException(OcfExitCode code, string reason, Exception? inner = null) : OperationException(FailureKind.Failed, reason, inner)
{
    public OcfExitCode Code { get; } = code;
    public OcfResult Result => new(Code, Reason);
}
