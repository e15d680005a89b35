using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>Disk leases as the second line of defence, on the real thing: two hosts with their own
/// libvirtd and virtlockd, whose lockspace lives on a GlusterFS volume both mount. Whatever made the
/// cluster start the guest a second time, libvirt on the second host refuses it and the agent says
/// why; validate-all and start report the protection, and require_disk_leases refuses a host
/// without it.</summary>
[Collection(KvmClusterCollection.Name)]
[Trait("Stack", "kvm-cluster")]
public sealed class DiskLeaseTests(KvmCluster cluster, GlusterThreeNodes gluster) : IDisposable
{
    private const string QemuConf = "/etc/libvirt/qemu.conf";
    private const string LockdConf = "/etc/libvirt/qemu-lockd.conf";
    private readonly Dictionary<string, string> _originalQemuConf = [];
    private readonly GlusterMountUnderTest _leases = new() { Binary = Installed.Agent("GlusterMount") };
    private TestDomain? _guest;
    private string MountPoint => _leases.MountPoint;

    public void Dispose()
    {
        foreach (var node in KvmCluster.Nodes)
        {
            if (_guest is not null) cluster.On(node, "virsh", "-c", "qemu:///system", "destroy", _guest.Name);
            if (_originalQemuConf.TryGetValue(node, out var original))
            {
                Write(node, QemuConf, original);
                cluster.On(node, "rm", "-f", LockdConf);
                cluster.RestartLibvirt(node);
            }
            Mount(node, "stop");
        }
        _leases.Dispose();
    }

    private void Write(string node, string path, string text) =>
        Assert.True(cluster.On(node, "sh", "-c", "printf '%s' \"$1\" > \"$2\"", "sh", text, path).Succeeded);

    /// <summary>The lease volume's mount on a node; its resource state stays in the node's own
    /// /run/resource-agents, as pacemaker's would.</summary>
    private AgentRun Mount(string node, string action) =>
        _leases.Run(gluster, action, new() { ["OCF_RESOURCE_INSTANCE"] = "leases", ["HA_RSCTMP"] = "/run/resource-agents" },
            timeout: TimeSpan.FromSeconds(30), prefix: cluster.Prefix(node));

    private AgentRun Run(string node, string action, Dictionary<string, string>? more = null) =>
        VirtualDomainAgent.Run(_guest!, action, TimeSpan.FromSeconds(60), interval: "0", more: more, prefix: cluster.Prefix(node),
            binary: Installed.Agent("VirtualDomain"));

    /// <summary>lock_manager = "lockd" with its lockspace on the volume, on a node.</summary>
    private void UseVirtlockd(string node)
    {
        var original = cluster.On(node, "cat", QemuConf).StandardOutput;
        _originalQemuConf[node] = original;
        Write(node, QemuConf, original + "\nlock_manager = \"lockd\"\n");
        Write(node, LockdConf, $"auto_disk_leases = 1\nrequire_lease_for_disks = 1\nfile_lockspace_dir = \"{MountPoint}/lockspace\"\n");
        cluster.RestartLibvirt(node);
    }

    [Fact]
    public void A_second_start_on_another_host_fails_inside_libvirt_and_the_agent_says_why()
    {
        cluster.ConnectTo(gluster);
        foreach (var node in KvmCluster.Nodes)
        {
            var mount = Mount(node, "start");
            Assert.True(mount.Code == 0, mount.ToString());
        }
        Assert.True(cluster.On("n1", "mkdir", "-p", $"{MountPoint}/lockspace").Succeeded);
        Assert.True(cluster.On("n1", "truncate", "-s", "16M", $"{MountPoint}/leased.img").Succeeded);
        _guest = new TestDomain($"kvmocf-lease-{Guid.NewGuid().ToString()[..6]}", cluster.SharedDirectory, cluster.GuestDirectory, TestDomain.Kind.BusyboxNoAgent,
            extraDevices: TestDomain.RawDisk($"{MountPoint}/leased.img"));
        foreach (var node in KvmCluster.Nodes) UseVirtlockd(node);

        var deep = new Dictionary<string, string> { ["OCF_CHECK_LEVEL"] = "10", ["require_disk_leases"] = "true" };
        var validate = Run("n1", "validate-all", deep);
        Assert.True(validate.Code == 0, validate.ToString());
        Assert.Contains($"disk leases protect {_guest.Name}: virtlockd, lockspace {MountPoint}/lockspace on shared storage", validate.Stderr);

        Assert.Equal(0, Run("n1", "start", deep).Code);
        // virtlockd holds the lease on the volume: seen from the other host, its lock file is taken
        var lease = "import fcntl,os,glob,sys\nfor f in glob.glob(sys.argv[1] + '/*'):\n  try: fcntl.lockf(os.open(f, os.O_RDWR), fcntl.LOCK_EX | fcntl.LOCK_NB); print('FREE', f)\n  except OSError: print('HELD', f)\n";
        var seen = cluster.On("n2", "python3", "-c", lease, $"{MountPoint}/lockspace").StandardOutput;
        Assert.True(seen.StartsWith("HELD") && !seen.Contains("FREE"), seen);
        var twice = Run("n2", "start", deep);                       // as if the cluster had lost track of it
        Assert.Equal(1, twice.Code);
        // QEMU's own image lock refuses first (it opens the image before libvirt takes the lease, on resume)
        Assert.True(twice.ExitReason!.StartsWith($"{_guest.Name} was not started: its disk {MountPoint}/leased.img is locked"), twice.ToString());
        Assert.Single(_guest.QemuPids());
        Assert.Equal(0, Run("n1", "stop", new() { ["force_stop"] = "true" }).Code);

        // A host without a lock manager: require_disk_leases refuses to start there.
        Write("n2", QemuConf, _originalQemuConf["n2"]);
        cluster.RestartLibvirt("n2");
        var unprotected = Run("n2", "start", deep);
        Assert.Equal(5, unprotected.Code);
        Assert.Contains("not protected by a disk lease", unprotected.ExitReason);
        Assert.Empty(_guest.QemuPids());
        Assert.Equal(0, Run("n2", "start").Code);                   // without require_disk_leases it only reports
        Assert.Equal(0, Run("n2", "stop", new() { ["force_stop"] = "true" }).Code);
    }
}
