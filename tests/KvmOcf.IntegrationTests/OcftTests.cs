using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>resource-agents' own ocft suites — what an admin switching from the ClusterLabs agents
/// would run first — against our agents, each case a test. The configs are derived from the ones
/// Debian installs, changing only what must change (AgentRoot, the variables that name the lab's
/// guest or volume, parameters only our agent has); where our agent deliberately answers otherwise,
/// the derived config says so in a comment, and README's exit-code tables too.</summary>
public static class OcftConfigs
{
    public static string Stock(string agent) => File.ReadAllText(Path.Combine(Ocft.StockConfigs, agent));

    /// <summary>The stock VirtualDomain config with the agent and the guest swapped in, and nothing else.</summary>
    public static string VirtualDomain(string guestConfig) =>
        Stock("VirtualDomain")
            .Replace("AgentRoot /usr/lib/ocf/resource.d/heartbeat", $"AgentRoot {Repo.StagedAgents}")
            .Replace("OCFT_config=/etc/libvirt/qemu/sle11-sp3.xml", $"OCFT_config={guestConfig}");

    /// <summary>Filesystem's cases for a GlusterFS volume: the device is the volume (no loop device to
    /// make, no fstype), and the two cases that break a block device (losetup -d; remount read-only)
    /// are left out — a FUSE mount has neither; GlusterMountFaultMatrix breaks the volume instead.</summary>
    public static string GlusterMount(string device, string directory)
    {
        var stock = Stock("Filesystem");
        string Without(string text, string from, string to) => text.Remove(text.IndexOf(from, StringComparison.Ordinal),
            text.IndexOf(to, text.IndexOf(from, StringComparison.Ordinal), StringComparison.Ordinal) - text.IndexOf(from, StringComparison.Ordinal));
        var config = stock
            .Replace("Agent Filesystem", "Agent GlusterMount")
            .Replace("AgentRoot /usr/lib/ocf/resource.d/heartbeat", $"AgentRoot {Repo.StagedAgents}");
        config = Without(config, "VARIABLE", "CASE-BLOCK required_args");
        config = config.Replace("CASE-BLOCK required_args", $"""
            VARIABLE
            	OCFT_device={device}
            	OCFT_dir={directory}

            CASE-BLOCK required_args
            """);
        config = config.Replace("\tEnv OCF_RESKEY_device=$OCFT_loop\n\tEnv OCF_RESKEY_fstype=ext3\n", "\tEnv OCF_RESKEY_device=$OCFT_device\n");
        config = config.Replace("""
            	Env OCF_RESKEY_device=/dev/no_such_device
            	AgentRun start OCF_ERR_INSTALLED
            """, """
            	Env OCF_RESKEY_device=/dev/no_such_device
            	# kvmocf: OCF_ERR_CONFIGURED, not OCF_ERR_INSTALLED: '/dev/no_such_device' is no server:/volume on any node
            	AgentRun start OCF_ERR_CONFIGURED
            """);
        config = Without(config, "CASE \"start insert failure (remove device)\"", "CASE \"unimplemented command\"");
        return config;
    }

    /// <summary>Debian's drbd.linbit config for DrbdDevice in the DRBD lab's guests: the agent, the
    /// guests' names, replication addresses and spare disk, a minor the lab's own resources do not use;
    /// the stock setup's metadata check fixed for drbd-utils 9.22, and the two answers that differ on purpose.</summary>
    public static string DrbdDevice()
    {
        var config = OcftConfigs.Stock("drbd.linbit")
            .Replace("\tAgent drbd\n", "\tAgent DrbdDevice\n")
            .Replace("AgentRoot /usr/lib/ocf/resource.d/linbit", "AgentRoot /usr/lib/ocf/resource.d/kvmocf")
            // kvmocf: Debian has no package "drbd" (ocft would apt-get install it and give up); drbd-utils is installed
            .Replace("\tInstallPackage drbd\n", "")
            .Replace("NAME_1=HOSTNAME1", "NAME_1=a").Replace("IP_1=IP_ADDRESS1", "IP_1=10.98.0.1").Replace("DISK_1=/dev/DEVICE1", "DISK_1=/dev/vdd")
            .Replace("NAME_2=HOSTNAME2", "NAME_2=b").Replace("IP_2=IP_ADDRESS2", "IP_2=10.98.0.2").Replace("DISK_2=/dev/DEVICE2", "DISK_2=/dev/vdd")
            // the lab's own resources use /dev/drbd0..2
            .Replace("DEVICE_1=/dev/drbd0", "DEVICE_1=/dev/drbd9").Replace("DEVICE_2=/dev/drbd0", "DEVICE_2=/dev/drbd9");
        // kvmocf: drbd-utils 9.22's dump-md exits 1, not 255, when a disk has no metadata: the stock setup never
        // created it and waited forever for a sync of disks that could not attach
        config = Swap(config, "\tif [ $? -eq 255 ]; then\n\t\t$DRBDADM create-md ocft0\n",
            "\t# kvmocf: drbd-utils 9.22's dump-md exits 1 without metadata, not 255\n\tif [ $? -ne 0 ]; then\n\t\tyes yes | $DRBDADM create-md ocft0\n");
        config = Swap(config, """
            	# if wrong, I think the agent should return OCF_ERR_CONFIGURED.
            	AgentRun start OCF_ERR_CONFIGURED
            """, """
            	# if wrong, I think the agent should return OCF_ERR_CONFIGURED.
            	# kvmocf: OCF_ERR_INSTALLED, as ocf:linbit:drbd itself answers: the resource may be missing from this node's
            	# drbd.conf only (another node may have it), so it is not a cluster-wide configuration error
            	AgentRun start OCF_ERR_INSTALLED
            """);
        config = Swap(config, """
            	# promote fails, because remote drbd promote first.
            	AgentRun promote OCF_ERR_GENERIC
            """, """
            	# promote fails, because remote drbd promote first.
            	# kvmocf: promote retries while DRBD still sees a Primary peer (one that just died is seen so until DRBD's ping
            	# timeout), until the operation's timeout, as ocf:linbit:drbd does; a 15 s timeout answers before ocft's 20 s
            	Env OCF_RESKEY_CRM_meta_timeout=15000
            	AgentRun promote OCF_ERR_GENERIC
            """);
        return config;
    }

    private static string Swap(string text, string from, string to) =>
        text.Contains(from) ? text.Replace(from, to) : throw new InvalidOperationException("the stock drbd.linbit config changed: " + from);
}

/// <summary>ocf:kvmocf:VirtualDomain under the stock VirtualDomain ocft cases, on a real guest.</summary>
[Collection(LibvirtCollection.Name)]
[Trait("Stack", "libvirt")]
public sealed class VirtualDomainOcftTests(LibvirtDaemon libvirt, VirtualDomainOcftTests.Run run) : IClassFixture<VirtualDomainOcftTests.Run>
{
    /// <summary>ocft runs every case in one go, once for all the rows.</summary>
    public sealed class Run : IDisposable
    {
        private Dictionary<string, string?>? _verdicts;
        private (LibvirtDaemon Libvirt, TestDomain Guest)? _lab;

        public Dictionary<string, string?> Verdicts(LibvirtDaemon libvirt)
        {
            if (_verdicts is not null) return _verdicts;
            Repo.RequireBuild();
            var guest = new TestDomain($"kvmocf-ocft-{Guid.NewGuid().ToString()[..6]}", libvirt.WorkDirectory, libvirt.GuestDirectory);
            _lab = (libvirt, guest);
            return _verdicts = Ocft.Run("VirtualDomain", OcftConfigs.VirtualDomain(guest.ConfigPath), TimeSpan.FromMinutes(10));
        }

        public void Dispose()
        {
            if (_lab is { } lab) lab.Libvirt.Virsh("destroy", lab.Guest.Name);
        }
    }

    public static TheoryData<string> Cases => [.. File.Exists(Path.Combine(Ocft.StockConfigs, "VirtualDomain")) ? Ocft.Cases(OcftConfigs.Stock("VirtualDomain")) : []];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case_passes(string name)
    {
        var verdicts = run.Verdicts(libvirt);
        Assert.True(verdicts.ContainsKey(name), $"ocft did not run '{name}'");
        Assert.True(verdicts[name] is null, $"'{name}': {verdicts[name]}");
    }
}

/// <summary>ocf:kvmocf:GlusterMount under the stock Filesystem ocft cases, adapted to a GlusterFS
/// volume (see <see cref="OcftConfigs.GlusterMount"/>); ocft runs where the volume is reachable.</summary>
[Collection(GlusterCollection.Name)]
[Trait("Stack", "gluster")]
public sealed class GlusterMountOcftTests(GlusterSingleNode lab, GlusterMountOcftTests.Run run) : IClassFixture<GlusterMountOcftTests.Run>
{
    public sealed class Run : IDisposable
    {
        private Dictionary<string, string?>? _verdicts;
        private readonly GlusterMountUnderTest _fs = new();

        public Dictionary<string, string?> Verdicts(GlusterLab lab)
        {
            if (_verdicts is not null) return _verdicts;
            Repo.RequireBuild();
            return _verdicts = Ocft.Run("GlusterMount", OcftConfigs.GlusterMount(lab.Device, _fs.MountPoint), TimeSpan.FromMinutes(10), lab.ClientPrefix);
        }

        public void Dispose() => _fs.Dispose();
    }

    public static TheoryData<string> Cases =>
        [.. File.Exists(Path.Combine(Ocft.StockConfigs, "Filesystem")) ? Ocft.Cases(OcftConfigs.GlusterMount("gl:/v", "/mnt/x")) : []];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case_passes(string name)
    {
        var verdicts = run.Verdicts(lab);
        Assert.True(verdicts.ContainsKey(name), $"ocft did not run '{name}'");
        Assert.True(verdicts[name] is null, $"'{name}': {verdicts[name]}");
    }
}

/// <summary>resource-agents' own ocft cases for ocf:linbit:drbd (drbd.linbit), run for DrbdDevice
/// inside guest a, with guest b as the second node (ocft reaches it with "ssh", here the lab's remote
/// shell). The config is Debian's, with only what must change changed (see <see cref="OcftConfigs.DrbdDevice"/>).</summary>
[Collection(DrbdCollection.Name)]
[Trait("Stack", "drbd")]
public sealed class DrbdDeviceOcftTests(DrbdLab lab, DrbdDeviceOcftTests.Run run) : IClassFixture<DrbdDeviceOcftTests.Run>
{
    public sealed class Run
    {
        private Dictionary<string, string?>? _verdicts;
        public string Output { get; private set; } = "";

        public Dictionary<string, string?> Verdicts(DrbdLab lab)
        {
            if (_verdicts is not null) return _verdicts;
            Directory.CreateDirectory(Path.Combine(lab.Share, "ocft"));
            File.WriteAllText(Path.Combine(lab.Share, "ocft", "DrbdDevice"), OcftConfigs.DrbdDevice());
            var r = lab.Exec("a", "export PATH=/usr/local/sbin:$PATH; cd /share/ocft && ocft make -d /share/ocft DrbdDevice >/dev/null && ocft test DrbdDevice; " +
                "rc=$?; ocft clean DrbdDevice >/dev/null 2>&1; exit $rc", TimeSpan.FromMinutes(10));
            Output = r.StandardOutput + r.StandardError;
            return _verdicts = Ocft.Verdicts(Output);
        }
    }

    public static TheoryData<string> Cases => [.. File.Exists(Path.Combine(Ocft.StockConfigs, "drbd.linbit")) ? Ocft.Cases(OcftConfigs.Stock("drbd.linbit")) : []];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case_passes(string name)
    {
        var verdicts = run.Verdicts(lab);
        Assert.True(verdicts.ContainsKey(name), $"ocft did not run '{name}':\n{run.Output}");
        Assert.True(verdicts[name] is null, $"'{name}': {verdicts[name]}");
    }
}
