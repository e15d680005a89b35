namespace KvmOcf.Core;

/// <summary>What went wrong, in the core's words. Each runtime turns these into its own exit codes
/// in one table (the OCF runtime: not installed is OCF_ERR_INSTALLED, the rest OCF_ERR_GENERIC; the
/// fence runtime: all of them a failed action).</summary>
public enum FailureKind
{
    /// <summary>It was tried and did not work (a tool exited non-zero, a daemon said no).</summary>
    Failed,
    /// <summary>A program or library it needs is not installed here.</summary>
    NotFound,
    /// <summary>It did not finish before its deadline.</summary>
    TimedOut,
    /// <summary>The daemon or device on the other side did not answer.</summary>
    Unreachable,
    /// <summary>The other side answered and refused (permission, authentication).</summary>
    Refused,
}

/// <summary>A failure with a one-line reason, thrown deep in a call chain and reported by the runtime.</summary>
public class OperationException(FailureKind kind, string reason, Exception? inner = null) : Exception(reason, inner)
{
    public FailureKind Kind { get; } = kind;
    public string Reason => Message;
}
