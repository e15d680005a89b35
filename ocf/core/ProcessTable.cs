namespace KvmOcf.Core;

/// <summary>The process table as /proc shows it — the one place that reads it — without touching
/// anything else: agents use it as a witness (is a qemu running this guest? which FUSE client
/// serves this mount? who uses it?), the runner to find a child's descendants.</summary>
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

    /// <summary>The parent's PID, or null when the process is gone.</summary>
    public static int? Parent(int pid, string procRoot = "/proc") =>
        StatField(pid, 1, procRoot) is { } ppid && int.TryParse(ppid, out var parent) ? parent : null;

    /// <summary>A kernel thread (PF_KTHREAD in the flags): no signal ends it.</summary>
    public static bool IsKernelThread(int pid, string procRoot = "/proc") =>
        StatField(pid, 6, procRoot) is { } flags && uint.TryParse(flags, out var f) && (f & 0x00200000) != 0;

    /// <summary>The namespace a process is in (the target of /proc/PID/ns/KIND, e.g. "net:[4026531840]"),
    /// or null when it cannot be read (gone, or not ours to see).</summary>
    public static string? Namespace(int pid, string kind, string procRoot = "/proc") =>
        Link(Path.Combine(procRoot, pid.ToString(), "ns", kind));

    /// <summary>Our own namespace of <paramref name="kind"/>, as <see cref="Namespace"/> reads it.</summary>
    public static string? OwnNamespace(string kind, string procRoot = "/proc") => Link(Path.Combine(procRoot, "self", "ns", kind));

    /// <summary>Every descendant of <paramref name="root"/> (children first found, then theirs).</summary>
    public static List<int> Descendants(int root, string procRoot = "/proc")
    {
        var parents = new Dictionary<int, int>();
        foreach (var pid in Pids(procRoot))
            if (Parent(pid, procRoot) is { } ppid) parents[pid] = ppid;
        var found = new List<int>();
        var frontier = new Queue<int>([root]);
        while (frontier.TryDequeue(out var parent))
            foreach (var (pid, ppid) in parents)
                if (ppid == parent && !found.Contains(pid)) { found.Add(pid); frontier.Enqueue(pid); }
        return found;
    }

    /// <summary>Field <paramref name="index"/> of /proc/PID/stat counted after the command name
    /// (which may itself hold spaces and parentheses): 0 is the state, 1 the parent, 6 the flags.</summary>
    private static string? StatField(int pid, int index, string procRoot)
    {
        if (Read(Path.Combine(procRoot, pid.ToString(), "stat")) is not { } stat) return null;
        int end = stat.LastIndexOf(')');
        if (end < 0 || end + 2 > stat.Length) return null;
        var fields = stat[(end + 2)..].Split(' ');
        return index < fields.Length ? fields[index] : null;
    }

    public static string? Link(string path)
    {
        try { return new FileInfo(path).LinkTarget; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    private static string? Read(string path)
    {
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
