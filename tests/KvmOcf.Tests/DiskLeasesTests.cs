using KvmOcf.VirtualDomain;

namespace KvmOcf.Tests;

/// <summary>Which writable disks a libvirt lock manager protects, from its configuration and where
/// the leases live.</summary>
public class DiskLeasesTests
{
    private static readonly DomainConfig Guest = DomainConfig.Parse("""
        <domain><name>vm1</name><devices>
          <disk type='file'><source file='/vmstore/vm1.qcow2'/><target dev='vda'/></disk>
          <disk type='file'><source file='/var/lib/libvirt/images/scratch.raw'/><target dev='vdb'/></disk>
          <disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='hdc'/><readonly/></disk>
          <disk type='network'><source protocol='gluster' name='gv0/vm1-data'/><target dev='vdc'/></disk>
        </devices></domain>
        """);

    private static string? FileSystemOf(string path) => path.StartsWith("/vmstore", StringComparison.Ordinal) ? "fuse.glusterfs" : "ext4";

    private static DiskLeases Assess(params (string File, string Text)[] confs) =>
        DiskLeases.Assess(Guest, name => confs.FirstOrDefault(c => c.File == name).Text, FileSystemOf);

    [Fact]
    public void Without_a_lock_manager_nothing_is_protected()
    {
        var leases = Assess(("qemu.conf", "#lock_manager = \"lockd\"\n"));
        Assert.Empty(leases.Protected);
        Assert.Equal(["/vmstore/vm1.qcow2", "/var/lib/libvirt/images/scratch.raw", "vdc"], leases.Unprotected.Select(d => d.ToString()));
        Assert.Contains("no lock manager", leases.How);
    }

    [Fact]
    public void Virtlockd_with_a_shared_lockspace_protects_every_local_path()
    {
        var leases = Assess(("qemu.conf", "lock_manager = \"lockd\""), ("qemu-lockd.conf", "file_lockspace_dir = \"/vmstore/lockspace\"  # shared\n"));
        Assert.Equal(["/vmstore/vm1.qcow2", "/var/lib/libvirt/images/scratch.raw"], leases.Protected.Select(d => d.ToString()));
        Assert.Equal(["vdc"], leases.Unprotected.Select(d => d.ToString()));              // virtlockd cannot lock a network disk
    }

    [Fact]
    public void Virtlockd_locking_images_in_place_protects_only_images_on_shared_storage()
    {
        var leases = Assess(("qemu.conf", "lock_manager = \"lockd\""));
        Assert.Equal(["/vmstore/vm1.qcow2"], leases.Protected.Select(d => d.ToString()));
        var local = Assess(("qemu.conf", "lock_manager = \"lockd\""), ("qemu-lockd.conf", "file_lockspace_dir = \"/var/lib/libvirt/lockd/files\""));
        Assert.Empty(local.Protected);
        Assert.Contains("not on shared storage", local.How);
        Assert.Empty(Assess(("qemu.conf", "lock_manager = \"lockd\""), ("qemu-lockd.conf", "auto_disk_leases = 0")).Protected);
    }

    [Fact]
    public void Sanlock_needs_auto_leases_on_shared_storage_or_leases_in_the_xml()
    {
        Assert.Empty(Assess(("qemu.conf", "lock_manager = \"sanlock\"")).Protected);
        var auto = Assess(("qemu.conf", "lock_manager = \"sanlock\""), ("qemu-sanlock.conf", "auto_disk_leases = 1\ndisk_lease_dir = \"/vmstore/sanlock\""));
        Assert.Equal(2, auto.Protected.Count);
    }
}
