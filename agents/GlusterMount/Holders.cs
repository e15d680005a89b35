namespace KvmOcf.GlusterMount;

/// <summary>The processes that use a mount: an open file on it (matched by the mount ID in
/// /proc/PID/fdinfo, so a file with the same path prefix on another filesystem never matches), a
/// working directory, root or executable inside it, or a mapping of a file inside it. Sub-mounts
/// below it are not it. Unlike <c>fuser -m</c> (resource-agents #1944: it fell back to other
/// filesystems and killed unrelated processes) nothing outside the mount is ever named. Reads
/// only /proc: nothing here touches the mount itself.</summary>
internal static class Holders
{
    public static List<(int Pid, string What)> Find(MountEntry mount, IReadOnlyList<MountEntry> table, string procRoot = "/proc")
    {
        var found = new List<(int, string)>();
        var below = MountTable.Below(table, mount.MountPoint).Select(m => m.MountPoint).ToList();
        bool OnMount(string path) => MountTable.IsUnder(path, mount.MountPoint) && !below.Any(b => MountTable.IsUnder(path, b));
        int self = Environment.ProcessId;

        foreach (var dir in Directory.EnumerateDirectories(procRoot))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == self || pid == 1) continue;
            try
            {
                if (Use(dir, OnMount, mount.Id) is { } what) found.Add((pid, what));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // gone meanwhile
        }
        return found;
    }

    private static string? Use(string dir, Func<string, bool> onMount, int mountId)
    {
        foreach (var link in new[] { "cwd", "root", "exe" })
            if (Link(Path.Combine(dir, link)) is { } target && onMount(target)) return $"{link} {target}";

        var fdinfo = Path.Combine(dir, "fdinfo");
        if (Directory.Exists(fdinfo))
            foreach (var info in Directory.EnumerateFiles(fdinfo))
            {
                string text;
                try { text = File.ReadAllText(info); } catch (IOException) { continue; }
                if (MountId(text) == mountId) return $"open file {Link(Path.Combine(dir, "fd", Path.GetFileName(info))) ?? "?"}";
            }

        string maps;
        try { maps = File.ReadAllText(Path.Combine(dir, "maps")); } catch (IOException) { return null; }
        foreach (var line in maps.Split('\n'))
        {
            // address perms offset dev inode path
            int slash = line.IndexOf('/');
            if (slash > 0 && onMount(line[slash..].Replace(" (deleted)", ""))) return $"mapping {line[slash..]}";
        }
        return null;
    }

    internal static int? MountId(string fdinfo)
    {
        foreach (var line in fdinfo.Split('\n'))
            if (line.StartsWith("mnt_id:", StringComparison.Ordinal) && int.TryParse(line["mnt_id:".Length..].Trim(), out var id)) return id;
        return null;
    }

    private static string? Link(string path)
    {
        try { return new FileInfo(path).LinkTarget; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
