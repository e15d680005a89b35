using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;

namespace KvmOcf.GlusterMount;

/// <summary>The one way this agent runs a child: bounded by a deadline, with "did not finish in
/// time" as an answer rather than an exception — so a caller decides what a timeout means (a
/// mount that does not answer; a volume whose health is unknown), never the runtime.</summary>
internal static class BoundedCommand
{
    /// <summary>The result, or null when the deadline came first (also when it had passed before
    /// the command could start). A child stuck at the deadline is killed and not waited for: one in
    /// an uninterruptible FUSE wait dies only when its request is answered.</summary>
    public static CommandResult? RunWithin(this Command command, Deadline deadline, ILogger log)
    {
        if (deadline.Expired) return null;
        try { return command.Run(deadline, log); }
        catch (OperationException e) when (e.Kind == FailureKind.TimedOut || deadline.Expired) { return null; }
    }
}
