using System.Globalization;

namespace KvmOcf.Drbd;

/// <summary>The kernel module's version, as /proc/drbd and modinfo give it.</summary>
public readonly record struct DrbdVersion(int Major, int Minor, int Patch) : IComparable<DrbdVersion>
{
    public bool Is9OrLater => Major >= 9;
    /// <summary>As drbdadm's DRBD_KERNEL_VERSION_CODE: 0xMMmmpp.</summary>
    public int Code => (Major << 16) | (Minor << 8) | Patch;

    public int CompareTo(DrbdVersion other) => Code.CompareTo(other.Code);
    public static bool operator <(DrbdVersion a, DrbdVersion b) => a.Code < b.Code;
    public static bool operator >(DrbdVersion a, DrbdVersion b) => a.Code > b.Code;
    public static bool operator <=(DrbdVersion a, DrbdVersion b) => a.Code <= b.Code;
    public static bool operator >=(DrbdVersion a, DrbdVersion b) => a.Code >= b.Code;

    /// <summary>x.y.z (anything after the third number, such as "-1" or "rc1", is ignored).</summary>
    public static bool TryParse(string? text, out DrbdVersion version)
    {
        version = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var parts = text.Trim().Split('.', 3);
        if (parts.Length < 3) return false;
        int Leading(string s) { int i = 0; while (i < s.Length && char.IsAsciiDigit(s[i])) i++; return i; }
        int l = Leading(parts[2]);
        if (l == 0 || l > 3 ||
            !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major) || major > 255 ||
            !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor) || minor > 255 ||
            !int.TryParse(parts[2].AsSpan(0, l), NumberStyles.None, CultureInfo.InvariantCulture, out var patch) || patch > 255) return false;
        version = new DrbdVersion(major, minor, patch);
        return true;
    }

    public override string ToString() => $"{Major}.{Minor}.{Patch}";
}

/// <summary>/proc/drbd: the module's version (first line, both 8.4 and 9) and, on DRBD 8.4, one
/// line per minor — <c> 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----</c>.
/// The fence-peer handler reads state here rather than through netlink: on 8.4 the kernel may call
/// it while holding the lock a netlink request would wait for (crm-fence-peer.9.sh does the same).</summary>
public sealed class ProcDrbd
{
    public const string Path = "/proc/drbd";

    public DrbdVersion? Version { get; private init; }
    /// <summary>DRBD 8.4 minors: connection state, roles and disk states (local/peer).</summary>
    public IReadOnlyDictionary<int, MinorLine> Minors { get; private init; } = new Dictionary<int, MinorLine>();

    public sealed record MinorLine(int Minor, string Connection, string Role, string PeerRole, string Disk, string PeerDisk);

    public static ProcDrbd Parse(string text)
    {
        DrbdVersion? version = null;
        var minors = new Dictionary<int, MinorLine>();
        foreach (var line in text.Split('\n'))
        {
            var t = line.Trim();
            if (t.StartsWith("version:", StringComparison.Ordinal))
            {
                if (DrbdVersion.TryParse(t["version:".Length..].Trim().Split(' ')[0], out var v)) version = v;
                continue;
            }
            int colon = t.IndexOf(':');
            if (colon <= 0 || !int.TryParse(t.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var minor)) continue;
            var fields = t[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(w => w.Split(':', 2)).Where(kv => kv.Length == 2).GroupBy(kv => kv[0]).ToDictionary(g => g.Key, g => g.First()[1]);
            if (!fields.TryGetValue("cs", out var cs)) continue;
            var (role, peerRole) = Pair(fields.GetValueOrDefault("ro"), Roles.Unconfigured, Roles.Unknown);
            var (disk, peerDisk) = Pair(fields.GetValueOrDefault("ds"), Roles.Unconfigured, DiskStates.DUnknown);
            minors[minor] = new MinorLine(minor, cs, role, peerRole, disk, peerDisk);
        }
        return new ProcDrbd { Version = version, Minors = minors };
    }

    private static (string, string) Pair(string? text, string local, string peer)
    {
        if (text is null) return (local, peer);
        int slash = text.IndexOf('/');
        return slash < 0 ? (text, peer) : (text[..slash], text[(slash + 1)..]);
    }

    /// <summary>The DRBD 8.4 resource made of <paramref name="minors"/>, as the model has it: a
    /// minor the kernel lists as Unconfigured (or not at all) is not configured.</summary>
    public ResourceStatus Resource(string name, IReadOnlyList<int> minors)
    {
        var lines = minors.Select(m => Minors.GetValueOrDefault(m)).ToList();
        if (lines.Count == 0 || lines.Any(l => l is null || l.Connection == "Unconfigured"))
            return new ResourceStatus(name, Roles.Unconfigured, [], []);
        var role = lines.Any(l => l!.Role == Roles.Primary) ? Roles.Primary
            : lines.Any(l => l!.Role == Roles.Secondary) ? Roles.Secondary : Roles.Unconfigured;
        var volumes = lines.Select((l, i) => new Volume(i, l!.Minor, l.Disk)).ToList();
        var peer = new Connection(null, "", lines[0]!.Connection, lines.Any(l => l!.PeerRole == Roles.Primary) ? Roles.Primary : lines[0]!.PeerRole,
            lines.Select((l, i) => new PeerVolume(i, l!.Connection, l.PeerDisk)).ToList());
        return new ResourceStatus(name, role, volumes, [peer]);
    }
}
