namespace KvmOcf.VirtualDomain;

/// <summary>Whether libvirt's lock manager protects a guest's writable disks against a second start
/// of the guest on another host — the second line of defence when everything else (fencing, the
/// agent's own care) has failed, as oVirt's VM leases are: with virtlockd or sanlock holding a lease
/// on shared storage, libvirt refuses the second start instead of letting two QEMUs write one disk.
/// A disk counts as protected when its lease lives on a filesystem every host sees: virtlockd's
/// <c>file_lockspace_dir</c>, or the disk image itself when virtlockd locks images in place;
/// sanlock's <c>disk_lease_dir</c>, or leases declared in the domain XML.</summary>
internal sealed record DiskLeases(IReadOnlyList<GuestDisk> Protected, IReadOnlyList<GuestDisk> Unprotected, string How)
{
    /// <summary>File systems every host of a cluster mounts the same.</summary>
    private static readonly HashSet<string> SharedFileSystems =
        ["fuse.glusterfs", "glusterfs", "nfs", "nfs4", "cifs", "smb3", "ceph", "fuse.ceph", "fuse.cephfs", "gfs2", "ocfs2", "lustre", "beegfs", "gpfs"];

    /// <param name="readConf">The text of a file in /etc/libvirt, or null when it does not exist.</param>
    /// <param name="fileSystemOf">The type of the filesystem a path lives on (from the mount table).</param>
    public static DiskLeases Assess(DomainConfig config, Func<string, string?> readConf, Func<string, string?> fileSystemOf)
    {
        var writable = config.Disks.Where(d => d.Writable).ToList();
        var qemu = LibvirtConf.Parse(readConf("qemu.conf"));
        bool Shared(string path) => fileSystemOf(path) is { } type && SharedFileSystems.Contains(type);
        DiskLeases Verdict(Func<GuestDisk, bool> isProtected, string how) =>
            new(writable.Where(isProtected).ToList(), writable.Where(d => !isProtected(d)).ToList(), how);

        switch (qemu.GetValueOrDefault("lock_manager"))
        {
            case "lockd":
            {
                var lockd = LibvirtConf.Parse(readConf("qemu-lockd.conf"));
                if (lockd.GetValueOrDefault("auto_disk_leases", "1") == "0") return Verdict(_ => false, "virtlockd with auto_disk_leases = 0");
                if (lockd.GetValueOrDefault("file_lockspace_dir") is { Length: > 0 } lockspace)
                    return Shared(lockspace)
                        ? Verdict(d => !d.Network, $"virtlockd, lockspace {lockspace} on shared storage")
                        : Verdict(_ => false, $"virtlockd's lockspace {lockspace} is not on shared storage");
                return Verdict(d => d.File is { } file && !file.StartsWith("/dev/", StringComparison.Ordinal) && Shared(file),
                    "virtlockd locks disk images in place: only images on shared storage are protected");
            }
            case "sanlock":
            {
                if (config.Leases > 0) return Verdict(_ => true, $"sanlock, {config.Leases} lease(s) in the domain XML");
                var sanlock = LibvirtConf.Parse(readConf("qemu-sanlock.conf"));
                if (sanlock.GetValueOrDefault("auto_disk_leases", "0") == "0") return Verdict(_ => false, "sanlock without auto_disk_leases or <lease> elements");
                var dir = sanlock.GetValueOrDefault("disk_lease_dir", "/var/lib/libvirt/sanlock");
                return Shared(dir)
                    ? Verdict(d => !d.Network, $"sanlock, leases in {dir} on shared storage")
                    : Verdict(_ => false, $"sanlock's disk_lease_dir {dir} is not on shared storage");
            }
            default:
                return Verdict(_ => false, "libvirt has no lock manager (lock_manager in qemu.conf)");
        }
    }
}

/// <summary>The <c>key = value</c> settings of a libvirt configuration file (strings unquoted).
/// Lists and anything this agent does not read are kept as written.</summary>
internal static class LibvirtConf
{
    public static Dictionary<string, string> Parse(string? text)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in (text ?? "").Split('\n'))
        {
            var line = raw.Trim();
            int eq = line.IndexOf('=');
            if (line.StartsWith('#') || eq <= 0) continue;
            var value = line[(eq + 1)..].Trim();
            if (value.StartsWith('"') && value.IndexOf('"', 1) is var close and > 0) value = value[1..close];
            else if (value.IndexOf('#') is var comment and >= 0) value = value[..comment].Trim();
            settings[line[..eq].Trim()] = value;
        }
        return settings;
    }
}
