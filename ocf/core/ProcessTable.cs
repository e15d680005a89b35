namespace KvmOcf.Core;

/// <summary>The process table as /proc shows it, read without touching anything else: agents use
/// it as a witness (is a qemu running this guest? which FUSE client serves this mount?).</summary>
public static class ProcessTable
{
    /// <summary>Every process ID under <paramref name="procRoot"/>.</summary>
    public static IEnumerable<int> Pids(string procRoot = "/proc")
    {
        foreach (var dir in Directory.EnumerateDirectories(procRoot))
            if (int.TryParse(Path.GetFileName(dir), out var pid)) yield return pid;
    }

    /// <summary>The process's command name (comm), or null when it is gone. Cheap, and unlike its
    /// cmdline it never waits on the process's memory map.</summary>
    public static string? Comm(int pid, string procRoot = "/proc") =>
        Read(Path.Combine(procRoot, pid.ToString(), "comm"))?.TrimEnd('\n');

    /// <summary>The process's argv, or null when it is gone (or a kernel thread).</summary>
    public static string[]? Argv(int pid, string procRoot = "/proc") =>
        Read(Path.Combine(procRoot, pid.ToString(), "cmdline")) is { Length: > 0 } cmdline ? cmdline.TrimEnd('\0').Split('\0') : null;

    private static string? Read(string path)
    {
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
