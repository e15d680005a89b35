using System.Text;

namespace KvmOcf.GlusterMount;

/// <summary>A line of /proc/self/mountinfo.</summary>
internal sealed record MountEntry(int Id, int ParentId, string MountPoint, string FsType, string Source);

/// <summary>The kernel's mount table, from /proc/self/mountinfo: reading it never touches the
/// filesystems themselves, so a hung or dead FUSE mount cannot block it.</summary>
internal static class MountTable
{
    public static IReadOnlyList<MountEntry> Read(string path = "/proc/self/mountinfo") => Parse(File.ReadAllText(path));

    internal static List<MountEntry> Parse(string mountinfo)
    {
        var entries = new List<MountEntry>();
        foreach (var line in mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            var fields = line.Split(' ');
            int dash = Array.IndexOf(fields, "-", 6);
            if (fields.Length < 7 || dash < 0 || dash + 2 >= fields.Length) continue;
            if (!int.TryParse(fields[0], out var id) || !int.TryParse(fields[1], out var parent)) continue;
            entries.Add(new MountEntry(id, parent, Unescape(fields[4]), fields[dash + 1], Unescape(fields[dash + 2])));
        }
        return entries;
    }

    /// <summary>The last (topmost) mount at <paramref name="mountPoint"/>.</summary>
    public static MountEntry? At(IReadOnlyList<MountEntry> table, string mountPoint) =>
        table.LastOrDefault(e => e.MountPoint == mountPoint);

    /// <summary>Mounts strictly below <paramref name="mountPoint"/>.</summary>
    public static IEnumerable<MountEntry> Below(IReadOnlyList<MountEntry> table, string mountPoint) =>
        table.Where(e => IsUnder(e.MountPoint, mountPoint) && e.MountPoint != mountPoint);

    /// <summary>Whether <paramref name="path"/> is <paramref name="directory"/> or inside it
    /// (/mnt/vm is not inside /mnt/v).</summary>
    public static bool IsUnder(string path, string directory) =>
        path == directory || path.StartsWith(directory.TrimEnd('/') + "/", StringComparison.Ordinal);

    /// <summary>mountinfo escapes space, tab, newline and backslash as octal (\040 …).</summary>
    internal static string Unescape(string field)
    {
        if (!field.Contains('\\')) return field;
        var bytes = new List<byte>();
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                bytes.Add(Convert.ToByte(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(string s, int at) =>
        at + 3 <= s.Length && s[at] is >= '0' and <= '3' && s[at + 1] is >= '0' and <= '7' && s[at + 2] is >= '0' and <= '7';
}
