using System.Globalization;
using System.Text;

namespace KvmOcf.Core;

/// <summary>A filesystem's device number (major:minor): the superblock's, so the same for every
/// mount of it in every mount namespace (a bind mount, a container's copy, libvirt's private
/// namespace for qemu) — unlike mount IDs and paths, which differ between them.</summary>
public readonly record struct DeviceNumber(uint Major, uint Minor)
{
    /// <summary>"0:39", as in mountinfo.</summary>
    public static DeviceNumber? Parse(string text) => Parse(text, NumberStyles.None);

    /// <summary>"00:27", as in /proc/PID/maps.</summary>
    public static DeviceNumber? ParseHex(string text) => Parse(text, NumberStyles.AllowHexSpecifier);

    private static DeviceNumber? Parse(string text, NumberStyles style)
    {
        int colon = text.IndexOf(':');
        return colon > 0 && uint.TryParse(text.AsSpan(0, colon), style, CultureInfo.InvariantCulture, out var major) &&
            uint.TryParse(text.AsSpan(colon + 1), style, CultureInfo.InvariantCulture, out var minor)
            ? new DeviceNumber(major, minor) : null;
    }

    public override string ToString() => $"{Major}:{Minor}";
}

/// <summary>A line of a mountinfo file.</summary>
public sealed record MountEntry(int Id, int ParentId, DeviceNumber Device, string MountPoint, string FsType, string Source);

/// <summary>The kernel's mount table, from /proc/self/mountinfo (or another process's, for its
/// mount namespace): reading it never touches the filesystems themselves, so a hung or dead FUSE
/// mount cannot block it. Mount points in it are canonical (see <see cref="MountPath"/>).</summary>
public static class MountTable
{
    public static IReadOnlyList<MountEntry> Read(string path = "/proc/self/mountinfo") => Parse(File.ReadAllText(path));

    public static List<MountEntry> Parse(string mountinfo)
    {
        var entries = new List<MountEntry>();
        foreach (var line in mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            var fields = line.Split(' ');
            int dash = Array.IndexOf(fields, "-", 6);
            if (fields.Length < 7 || dash < 0 || dash + 2 >= fields.Length) continue;
            if (!int.TryParse(fields[0], out var id) || !int.TryParse(fields[1], out var parent)) continue;
            if (DeviceNumber.Parse(fields[2]) is not { } device) continue;
            entries.Add(new MountEntry(id, parent, device, Unescape(fields[4]), fields[dash + 1], Unescape(fields[dash + 2])));
        }
        return entries;
    }

    /// <summary>The last (topmost) mount at <paramref name="mountPoint"/>.</summary>
    public static MountEntry? At(IReadOnlyList<MountEntry> table, string mountPoint) =>
        table.LastOrDefault(e => e.MountPoint == mountPoint);

    /// <summary>The mount <paramref name="path"/> (canonical) lies on: the topmost mount at the
    /// longest mount point that holds it.</summary>
    public static MountEntry? Containing(IReadOnlyList<MountEntry> table, string path) =>
        table.Where(e => MountPath.IsUnder(path, e.MountPoint)).OrderBy(e => e.MountPoint.Length).LastOrDefault();

    /// <summary>The mounts in the subtree of <paramref name="mount"/> (mounted on it, or on those):
    /// what a lazy unmount of it would detach along with it. Not those hidden under it, which were
    /// there before it and stay.</summary>
    public static List<MountEntry> Below(IReadOnlyList<MountEntry> table, MountEntry mount)
    {
        var below = new List<MountEntry>();
        var parents = new HashSet<int> { mount.Id };
        for (bool grew = true; grew;)
        {
            grew = false;
            foreach (var e in table)
                if (parents.Contains(e.ParentId) && e.Id != mount.Id && parents.Add(e.Id)) { below.Add(e); grew = true; }
        }
        return below;
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as octal (\040 …).</summary>
    public static string Unescape(string field)
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
