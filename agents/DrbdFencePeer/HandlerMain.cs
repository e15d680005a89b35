using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace KvmOcf.DrbdFencePeer;

/// <summary>kvmocf-fence-peer / kvmocf-unfence-peer: DRBD's fence-peer and unfence-peer handler
/// for pacemaker clusters, a native replacement for crm-fence-peer.9.sh and crm-unfence-peer.9.sh
/// with their options and exit codes. It acts by the name it was called by (a name containing
/// "unfence" unfences), as the scripts do. drbd.conf:
/// <code>handlers { fence-peer "/usr/lib/drbd/kvmocf-fence-peer"; unfence-peer "/usr/lib/drbd/kvmocf-unfence-peer"; }</code>
/// (on DRBD 8.4, which has no unfence-peer handler: after-resync-target "/usr/lib/drbd/kvmocf-unfence-peer").</summary>
internal static partial class HandlerMain
{
    public static int Run(string[] args)
    {
        var stderr = new FdWriter(2, autoFlush: true);
        var name = InvokedAs();
        bool unfence = name.Contains("unfence", StringComparison.Ordinal);
        var options = HandlerOptions.Parse(args, Environment.GetEnvironmentVariable("OCF_RESKEY_unfence_extra_args"), interactive: !Console.IsInputRedirected);
        var env = HandlerEnvironment.FromProcess();
        var resource = options.Resource ?? env.Resource;
        var tag = resource is null ? name : $"{name}({OneLine.Of(resource, 60)})";
        ILogSink? syslog = null;
        try { syslog = SyslogSink.For(tag, options.LogFacility); } catch (OperationException) { }
        bool debug = Environment.GetEnvironmentVariable("HA_debug") is { Length: > 0 } d && d != "0";
        var log = new AgentLogger(stderr, syslog, debug);
        foreach (var ignored in options.Ignored) log.LogWarning("ignoring {Option}", ignored);
        if (resource is null)
        {
            log.LogError("no DRBD resource: DRBD_RESOURCE is not set (drbdadm sets it) and no --resource given");
            return ExitCodes.Failure;
        }
        if (!options.Quiet)
            log.LogInformation("{Name} {Resource}: {Env}", name, resource,
                string.Join(' ', Environment.GetEnvironmentVariables().Keys.OfType<string>()
                    .Where(k => k.StartsWith("DRBD_", StringComparison.Ordinal) || k == "UP_TO_DATE_NODES").Order()
                    .Select(k => $"{k}={Environment.GetEnvironmentVariable(k)}")));
        // --timeout bounds the wait for the peer's state; the CIB writes get a margin on top
        var deadline = Deadline.After(Max(options.Timeout, options.DcTimeout) + TimeSpan.FromSeconds(30));
        try
        {
            using var held = FileLock.Acquire(options.LockPath(resource), Min(options.FlockTimeout, deadline.Remaining), log);
            if (held is null && options.FlockRequired) { log.LogError("could not lock {Path}", options.LockPath(resource)); return ExitCodes.Failure; }
            var handler = new Handler(options, env, resource, log, deadline);
            return unfence ? handler.Unfence() : handler.Fence();
        }
        catch (OperationException e) { log.LogError("{Name} {Resource}: {Reason}", name, resource, e.Reason); return ExitCodes.Failure; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.LogError("{Name} {Resource}: {Reason}", name, resource, OneLine.Of(e.Message, 200));
            return ExitCodes.Failure;
        }
        catch (Exception e)
        {
            // DRBD reads any other exit code as "fencing failed" too: one line, never a stack trace
            log.LogError("{Name} {Resource}: internal error: {Type}: {Reason}", name, resource, e.GetType().Name, OneLine.Of(e.Message, 200));
            return ExitCodes.Failure;
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>The name the handler was run by (argv[0], not the symlink's target).</summary>
    private static string InvokedAs()
    {
        try
        {
            var cmdline = File.ReadAllBytes("/proc/self/cmdline");
            int end = Array.IndexOf(cmdline, (byte)0);
            return Path.GetFileName(System.Text.Encoding.UTF8.GetString(cmdline, 0, end < 0 ? cmdline.Length : end));
        }
        catch (IOException) { return "kvmocf-fence-peer"; }
    }
}

/// <summary>An exclusive flock(2) on the handler's lock file (one fence/unfence per resource at a time).</summary>
internal sealed partial class FileLock : IDisposable
{
    private readonly FileStream _file;
    private FileLock(FileStream file) => _file = file;

    /// <summary>The lock, or null when there is none to take (NONE) or it was not got within <paramref name="wait"/>.</summary>
    public static FileLock? Acquire(string? path, TimeSpan wait, ILogger log)
    {
        if (path is null) return null;
        FileStream file;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.LogWarning("cannot open lock file {Path}: {Why}", path, e.Message);
            return null;
        }
        var until = Deadline.After(wait);
        int fd = (int)file.SafeFileHandle.DangerousGetHandle();
        while (Flock(fd, LockExclusive | LockNonBlocking) != 0)
        {
            if (until.Expired || !until.Sleep(TimeSpan.FromMilliseconds(100)))
            {
                log.LogWarning("could not get the lock {Path} within {Seconds:0}s", path, wait.TotalSeconds);
                file.Dispose();
                return null;
            }
        }
        return new FileLock(file);
    }

    public void Dispose() => _file.Dispose();

    private const int LockExclusive = 2, LockNonBlocking = 4;

    [LibraryImport("libc.so.6", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);
}
