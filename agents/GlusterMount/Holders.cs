using KvmOcf.Ocf;

namespace KvmOcf.GlusterMount;

/// <summary>A process that uses a filesystem, and how.</summary>
internal sealed record Holder(int Pid, string Command, string Use, bool KernelThread)
{
    /// <summary>Init and kernel threads are never ours to end: a stop they hold fails.</summary>
    public bool CanBeEnded => Pid != 1 && !KernelThread;

    public override string ToString() => $"process {Pid} ({Command}: {Use})";
}

/// <summary>The processes that use a filesystem, in any mount namespace, found by its device
/// number — never by path. A path names different things in different mount namespaces (a
/// container's look-alike directory is not the volume) and in the same one over time (the
/// directory a mount hides is not the mount), while the same volume shows under another mount ID
/// and path in libvirt's private namespace for qemu. Uses: an open file (fdinfo's mount ID, looked
/// up in that process's own mountinfo), a working directory, root or executable (statx without
/// sync: the filesystem is not asked) and a mapped file (the device in /proc/PID/maps). Reads only
/// /proc; unlike <c>fuser -m</c> (resource-agents #1944) nothing on another filesystem is named.
/// Threads that unshared their working directory or file table are not looked at.</summary>
internal static class Holders
{
    public static List<Holder> Find(DeviceNumber device, string procRoot = "/proc")
    {
        var found = new List<Holder>();
        var namespaces = new Dictionary<string, Dictionary<int, DeviceNumber>>();
        foreach (var pid in ProcessTable.Pids(procRoot))
        {
            if (pid == Environment.ProcessId) continue;
            if (Use(pid, device, procRoot, namespaces) is { } use)
                found.Add(new Holder(pid, ProcessTable.Comm(pid, procRoot) ?? "?", use, ProcessTable.IsKernelThread(pid, procRoot)));
        }
        return found;
    }

    /// <summary>How process <paramref name="pid"/> uses the filesystem, or null.</summary>
    public static string? Use(int pid, DeviceNumber device, string procRoot = "/proc",
        Dictionary<string, Dictionary<int, DeviceNumber>>? namespaces = null)
    {
        var dir = Path.Combine(procRoot, pid.ToString());
        try
        {
            foreach (var link in (ReadOnlySpan<string>)["cwd", "root", "exe"])
                if (DeviceOf(Path.Combine(dir, link)) == device) return $"{link} {ProcessTable.Link(Path.Combine(dir, link))}";

            if (OpenFile(dir, device, namespaces ?? []) is { } file) return $"open file {file}";

            foreach (var line in File.ReadLines(Path.Combine(dir, "maps")))
                if (MappedDevice(line) == device) return $"mapping {line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries)[^1].Trim()}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // gone meanwhile
        return null;
    }

    private static string? OpenFile(string dir, DeviceNumber device, Dictionary<string, Dictionary<int, DeviceNumber>> namespaces)
    {
        var fdinfo = Path.Combine(dir, "fdinfo");
        if (!Directory.Exists(fdinfo)) return null;
        var mounts = MountsOf(dir, namespaces);
        foreach (var info in Directory.EnumerateFiles(fdinfo))
        {
            string text;
            try { text = File.ReadAllText(info); } catch (IOException) { continue; }
            if (MountId(text) is not { } id) continue;
            var fd = Path.Combine(dir, "fd", Path.GetFileName(info));
            // not in its namespace's table: a mount detached since (umount -l); ask the file itself
            var on = mounts.TryGetValue(id, out var d) ? d : DeviceOf(fd);
            if (on == device) return ProcessTable.Link(fd) ?? "?";
        }
        return null;
    }

    /// <summary>Mount ID → device in the process's mount namespace, read once per namespace.</summary>
    private static Dictionary<int, DeviceNumber> MountsOf(string dir, Dictionary<string, Dictionary<int, DeviceNumber>> namespaces)
    {
        var ns = ProcessTable.Link(Path.Combine(dir, "ns", "mnt")) ?? dir;
        if (!namespaces.TryGetValue(ns, out var mounts))
        {
            mounts = new Dictionary<int, DeviceNumber>();
            try { foreach (var m in MountTable.Read(Path.Combine(dir, "mountinfo"))) mounts[m.Id] = m.Device; }
            catch (IOException) { }
            namespaces[ns] = mounts;
        }
        return mounts;
    }

    internal static int? MountId(string fdinfo)
    {
        foreach (var line in fdinfo.Split('\n'))
            if (line.StartsWith("mnt_id:", StringComparison.Ordinal) && int.TryParse(line["mnt_id:".Length..].Trim(), out var id)) return id;
        return null;
    }

    /// <summary>The device of a line of /proc/PID/maps (<c>address perms offset dev inode [path]</c>;
    /// 00:00 for anonymous memory), or null.</summary>
    internal static DeviceNumber? MappedDevice(string line)
    {
        var fields = line.Split(' ', 5, StringSplitOptions.RemoveEmptyEntries);
        return fields.Length >= 4 ? DeviceNumber.ParseHex(fields[3]) : null;
    }

    private static DeviceNumber? DeviceOf(string path) =>
        Statx.Device(path, out _) is { } d ? new DeviceNumber(d.Major, d.Minor) : null;

}
