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
