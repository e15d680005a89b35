using System.Text;
using Microsoft.Extensions.Logging;

namespace KvmOcf.Core;

/// <summary>Files that may live on storage that can hang (a domain config or a snapshot on a
/// GlusterFS or NFS mount). Every access runs in a child process (coreutils), bounded by a
/// deadline: a request on a hung network filesystem waits uninterruptibly, and a thread of ours
/// stuck so would keep the agent alive past pacemaker's timeout, while a stuck child is simply
/// left behind. Failures, timeouts included, are <see cref="IOException"/>s with a one-line message.</summary>
public static class StorageFile
{
    /// <summary>Larger files are refused rather than read in part.</summary>
    public const int MaxReadBytes = 4 << 20;

    public static string ReadText(string path, Deadline deadline, ILogger? log = null)
    {
        var result = Run(new Command("cat").WithArguments("--", path).WithMaxOutputBytes(MaxReadBytes + 1), $"reading {path}", deadline, log);
        if (Encoding.UTF8.GetByteCount(result.StandardOutput) > MaxReadBytes)
            throw new IOException($"{path} is larger than {MaxReadBytes >> 20} MiB");
        return result.StandardOutput;
    }

    /// <summary>The file's size, or null when it does not exist (any other failure throws).</summary>
    public static long? Size(string path, Deadline deadline, ILogger? log = null)
    {
        var stat = Start(new Command("stat").WithArguments("--format=%s", "--", path), $"checking {path}", deadline, log);
        if (!stat.Succeeded && stat.StandardError.Contains("No such file or directory")) return null;
        if (!stat.Succeeded || !long.TryParse(stat.StandardOutput.Trim(), out var size))
            throw new IOException($"checking {path} failed: {stat.Summary}");
        return size;
    }

    public static bool Exists(string path, Deadline deadline, ILogger? log = null) => Size(path, deadline, log) is not null;

    public static void Delete(string path, Deadline deadline, ILogger? log = null) =>
        Run(new Command("rm").WithArguments("-f", "--", path), $"removing {path}", deadline, log);

    public static void CreateDirectory(string path, Deadline deadline, ILogger? log = null) =>
        Run(new Command("mkdir").WithArguments("-p", "--", path), $"creating {path}", deadline, log);

    /// <summary>Replaces <paramref name="path"/> with <paramref name="text"/> atomically: a temporary
    /// file next to it, created with mode 0600 (it may carry secrets: libvirt's secure XML), written
    /// and fsynced, then renamed over the target. A failure leaves the old file as it was and
    /// removes the temporary one (best effort).</summary>
    public static void WriteAtomically(string path, string text, Deadline deadline, ILogger? log = null)
    {
        var directory = Path.GetDirectoryName(path) is { Length: > 0 } d ? d : "/";
        var temporary = Run(new Command("mktemp").WithArguments("-p", directory, $".{Path.GetFileName(path)}.kvmocf-XXXXXX"),
            $"creating a file in {directory}", deadline, log).StandardOutput.Trim();
        try
        {
            Run(new Command("dd").WithArguments($"of={temporary}", "conv=fsync", "status=none").WithStandardInput(text),
                $"writing {temporary}", deadline, log);
            Run(new Command("mv").WithArguments("-f", "-T", "--", temporary, path), $"replacing {path}", deadline, log);
        }
        catch (IOException)
        {
            try { Delete(temporary, deadline.Expired ? Deadline.After(TimeSpan.FromSeconds(1)) : deadline, log); }
            catch (IOException) { }
            throw;
        }
    }

    private static CommandResult Run(Command command, string doing, Deadline deadline, ILogger? log)
    {
        var result = Start(command, doing, deadline, log);
        return result.Succeeded ? result : throw new IOException($"{doing} failed: {result.Complaint}");
    }

    private static CommandResult Start(Command command, string doing, Deadline deadline, ILogger? log)
    {
        try { return command.Run(deadline, log); }
        catch (CommandTimeoutException) { throw new StorageTimeoutException($"{doing} did not finish in time (storage hung?)"); }
        catch (OperationException e) { throw new IOException($"{doing}: {e.Reason}"); }
    }
}

/// <summary>Storage did not answer before the deadline.</summary>
public sealed class StorageTimeoutException(string message) : IOException(message);
