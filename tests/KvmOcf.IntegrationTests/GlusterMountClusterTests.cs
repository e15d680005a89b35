using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>The usual layout through pacemaker: the GlusterFS mount cloned on every node, a
/// VirtualDomain guest whose disk lives on it ordered after and colocated with the clone; the guest
/// migrates live between the nodes, and disabling the mount stops the guest first.</summary>
[Collection(KvmClusterCollection.Name)]
[Trait("Stack", "kvm-cluster")]
public sealed class GlusterMountClusterTests(KvmCluster cluster, GlusterThreeNodes gluster) : IDisposable
{
    private const string MountPoint = "/mnt/kvmocf-cluster";

    public void Dispose()
    {
        cluster.On("n1", "pcs", "resource", "delete", "vmg", "--force");
        cluster.On("n1", "pcs", "resource", "delete", "fs", "--force");
        foreach (var node in KvmCluster.Nodes) cluster.On(node, "umount", "-l", MountPoint);
        try { Directory.Delete(MountPoint); } catch (IOException) { }
    }

    private bool MountedOn(string node) => cluster.On(node, "grep", "-q", $" {MountPoint} fuse.glusterfs", "/proc/mounts").Succeeded;

    [Fact]
    public void A_cloned_mount_carries_a_migrating_guest_and_stops_after_it()
    {
        cluster.ConnectTo(gluster);

        var fs = cluster.On("n1", "pcs", "resource", "create", "fs", "ocf:kvmocf:GlusterMount", $"device={gluster.Device}",
            $"directory={MountPoint}", $"backup_volfile_servers={gluster.BackupServers}", "op", "monitor", "interval=10s", "clone");
        Assert.True(fs.Succeeded, fs.StandardError);
        Assert.True(Sh.Eventually(() => MountedOn("n1") && MountedOn("n2"), TimeSpan.FromSeconds(90)), "the clone did not mount on both nodes");

        Assert.True(cluster.On("n1", "truncate", "-s", "16M", $"{MountPoint}/vmg.img").Succeeded);
        var d = new TestDomain($"kvmocf-g-{Guid.NewGuid().ToString()[..6]}", cluster.SharedDirectory, cluster.GuestDirectory, TestDomain.Kind.BusyboxNoAgent,
            extraDevices: TestDomain.RawDisk($"{MountPoint}/vmg.img"),
            kernelArguments: "disk=write");
        Assert.True(cluster.On("n1", "pcs", "resource", "create", "vmg", "ocf:kvmocf:VirtualDomain", $"config={d.ConfigPath}", "migration_transport=tcp",
            "op", "monitor", "interval=5s", "meta", "allow-migrate=true", "--disabled").Succeeded);
        Assert.True(cluster.On("n1", "pcs", "constraint", "order", "start", "fs-clone", "then", "vmg").Succeeded);
        Assert.True(cluster.On("n1", "pcs", "constraint", "colocation", "add", "vmg", "with", "fs-clone").Succeeded);
        Assert.True(cluster.On("n1", "pcs", "resource", "enable", "vmg").Succeeded);

        string? here = null;
        Assert.True(Sh.Eventually(() => (here = cluster.LocationOf("vmg")) is not null, TimeSpan.FromSeconds(90)), "the guest did not start");
        Assert.True(Sh.Eventually(() => File.Exists(d.ConsolePath) && File.ReadAllText(d.ConsolePath).Contains("GUEST: WRITE "), TimeSpan.FromSeconds(90)),
            "the guest does not write to its disk on the volume");

        var there = here == "n1" ? "n2" : "n1";
        var uptime = d.Uptime()!.Value;
        Assert.True(cluster.On("n1", "pcs", "resource", "move", "vmg", there).Succeeded);
        Assert.True(Sh.Eventually(() => cluster.LocationOf("vmg") == there && cluster.RunsOn(there, d) && !cluster.RunsOn(here!, d), TimeSpan.FromSeconds(120)),
            "the guest did not migrate");
        Assert.True(Sh.Eventually(() => d.Uptime() > uptime + 2, TimeSpan.FromSeconds(20)), "the guest restarted instead of migrating");
        cluster.On("n1", "pcs", "resource", "clear", "vmg");

        // Taking the storage away takes the guest down first.
        Assert.True(cluster.On("n1", "pcs", "resource", "disable", "fs-clone").Succeeded);
        Assert.True(Sh.Eventually(() => !MountedOn("n1") && !MountedOn("n2"), TimeSpan.FromSeconds(120)), "the mounts did not go");
        Assert.False(cluster.RunsOn("n1", d) || cluster.RunsOn("n2", d));
        Assert.DoesNotContain("GUEST: WRITE-FAIL", File.ReadAllText(d.ConsolePath));
    }
}
