using KvmOcf.Ocf;

namespace KvmOcf.GlusterMount;

/// <summary>Gluster's processes on this node, from the process table (argv; nothing is asked of
/// glusterd, which may be down or hung).</summary>
internal static class GlusterProcesses
{
    /// <summary>The bricks served here: each glusterfsd names its brick's path in
    /// <c>--brick-name PATH</c>.</summary>
    public static List<(int Pid, string Path)> Bricks(string procRoot = "/proc")
    {
        var bricks = new List<(int, string)>();
        foreach (var pid in ProcessTable.Pids(procRoot))
            if (ProcessTable.Comm(pid, procRoot) == "glusterfsd" && Brick(ProcessTable.Argv(pid, procRoot) ?? []) is { } path)
                bricks.Add((pid, MountPath.Canonical(path)));
        return bricks;
    }

    internal static string? Brick(string[] argv)
    {
        int at = Array.IndexOf(argv, "--brick-name");
        return at >= 0 && at + 1 < argv.Length ? argv[at + 1] : null;
    }

    /// <summary>The FUSE clients (glusterfs) of the mount at <paramref name="mountPoint"/>: mount(8)
    /// hands them the mount point, canonical, as their last argument.</summary>
    public static List<int> Clients(string mountPoint, string procRoot = "/proc") =>
        ProcessTable.Pids(procRoot).Where(pid => IsClient(pid, mountPoint, procRoot)).ToList();

    public static bool IsClient(int pid, string mountPoint, string procRoot = "/proc") =>
        ProcessTable.Comm(pid, procRoot) == "glusterfs" &&
        ProcessTable.Argv(pid, procRoot) is [_, .., var last] && MountPath.Canonical(last) == mountPoint;
}
