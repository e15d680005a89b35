using System.Xml.Linq;

namespace KvmOcf.IntegrationTests.Harness;

/// <summary>Two "hypervisor hosts" n1 and n2 (tests/lab/kvmlab): each its own network, mount and
/// UTS namespace with its own libvirtd (TCP, no auth) and a corosync + pacemaker node of one
/// 2-node cluster with STONITH through a test fence agent that kills a node's processes. Agents
/// run "on" a node through nsenter. Everything is stopped by PID and the namespaces removed on
/// disposal.</summary>
public sealed class KvmCluster : IDisposable
{
    public static readonly string[] Nodes = ["n1", "n2"];
    private readonly string _lab = Path.Combine(Repo.Root, "tests/lab/kvmlab");
    private readonly string _state = Directory.CreateTempSubdirectory("kvmocf-kvmlab-").FullName;

    public string GuestDirectory { get; } = Path.Combine(Repo.Build, "guest");
    /// <summary>Shared by all nodes (as shared storage would be): configs and consoles.</summary>
    public string SharedDirectory { get; } = Directory.CreateTempSubdirectory("kvmocf-shared-").FullName;
    public string FenceLog => Path.Combine(_state, "fence");

    public KvmCluster()
    {
        Packages.Ensure("libvirt-daemon-system", "libvirt-clients", "libvirt-daemon-driver-qemu", "qemu-system-x86", "qemu-utils",
            "pacemaker", "pacemaker-cli-utils", "corosync", "pcs", "crmsh", "iproute2", "util-linux");
        Sh.Ok(Cli.Wrap(Path.Combine(Repo.Root, "tests/lab/build-guest")).WithArguments([GuestDirectory]), TimeSpan.FromMinutes(5));
        File.SetUnixFileMode(SharedDirectory, (UnixFileMode)0b111_101_101);
        Installed.Agent("VirtualDomain");
        Installed.Agent("GlusterMount");
        Installed.Fence("fence_kvmlab", Path.Combine(Repo.Root, "tests/lab/fence_kvmlab"));
        try
        {
            Sh.Ok(Lab("up", "2", "--libvirt", "--pacemaker", "--stonith"), TimeSpan.FromMinutes(3));
            On("n1", "pcs", "resource", "defaults", "update", "resource-stickiness=100");
            var fence = On("n1", "pcs", "stonith", "create", "fence-lab", "fence_kvmlab", "pcmk_host_list=n1 n2", "hostlist=n1 n2",
                $"hook=env KVMLAB_DIR={_state} {_lab} fence-hook", $"log_dir={FenceLog}", "op", "monitor", "interval=60s");
            if (!fence.Succeeded) throw new InvalidOperationException("pcs stonith create: " + fence.StandardError);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private Command Lab(params string[] arguments) =>
        Cli.Wrap(_lab).WithArguments(arguments).WithEnvironmentVariables(e => e.Set("KVMLAB_DIR", _state));

    /// <summary>Runs a command on a node (in its namespaces).</summary>
    public ToolResult On(string node, params string[] command) => Sh.Run(Lab(["exec", node, .. command]), TimeSpan.FromMinutes(3));

    /// <summary>The nsenter prefix that runs a program on a node.</summary>
    public string[] Prefix(string node) => ["nsenter", "-t", Sh.Ok(Lab("pid", node)).StandardOutput.Trim(), "-m", "-u", "-n", "--"];

    public void KillNode(string node) => Sh.Ok(Lab("node-kill", node));
    /// <summary>Restarts the node's libvirtd (with a virtlockd), which re-reads /etc/libvirt/qemu.conf.</summary>
    public void RestartLibvirt(string node) => Sh.Ok(Lab("restart-libvirt", node), TimeSpan.FromMinutes(1));
    public void StartNode(string node) => Sh.Ok(Lab("node-start", node));
    private string LibvirtdPid(string node) => File.ReadAllText(Path.Combine(_state, "nodes", node, "libvirtd.pid")).Trim();

    /// <summary>Stops the node's libvirtd (its guests keep running, as after a libvirtd crash).</summary>
    public void StopLibvirt(string node)
    {
        var pid = int.Parse(LibvirtdPid(node));
        Sh.Run("kill", "-CONT", pid.ToString());
        Sh.Run("kill", "-TERM", pid.ToString());
        if (!Sh.Eventually(() => !Daemons.IsAlive(pid), TimeSpan.FromSeconds(20))) Sh.Run("kill", "-KILL", pid.ToString());
    }

    /// <summary>Starts the node's libvirtd again (restart-libvirt starts one that is not running).</summary>
    public void StartLibvirt(string node) => RestartLibvirt(node);

    /// <summary>SIGSTOPs the node's libvirtd: connections are accepted and never answered.</summary>
    public void FreezeLibvirt(string node) => Sh.Ok("kill", "-STOP", LibvirtdPid(node));
    public void ThawLibvirt(string node) => Sh.Run("kill", "-CONT", LibvirtdPid(node));
    /// <summary>libvirt's URI of the node's libvirtd over TCP, as another host reaches it.</summary>
    public static string TcpUri(string node) => $"qemu+tcp://{Address(Array.IndexOf(Nodes, node) + 1)}/system";
    public void WaitOnline(params string[] nodes) => Sh.Ok(Lab(["wait-online", .. nodes]), TimeSpan.FromMinutes(3));

    /// <summary>The cluster's tools as run on <paramref name="node"/>.</summary>
    private PacemakerQueries Pacemaker(string node) => new(argv => On(node, argv));

    public XElement? CrmMon(string node = "n1") => Pacemaker(node).CrmMon();
    public string? Utilization(string resource, string attribute, string node = "n1") => Pacemaker(node).Utilization(resource, attribute);
    public string? Epoch(string node = "n1") => Pacemaker(node).Epoch();

    /// <summary>Where crm_mon (seen from <paramref name="observer"/>) says the resource runs.</summary>
    public string? LocationOf(string resource, string observer = "n1") =>
        (string?)CrmMon(observer)?.Descendants("resource")
            .FirstOrDefault(r => (string?)r.Attribute("id") == resource && (string?)r.Attribute("active") == "true" && (string?)r.Attribute("role") == "Started")
            ?.Element("node")?.Attribute("name");

    /// <summary>Whether libvirt on <paramref name="node"/> lists the guest as running.</summary>
    public bool RunsOn(string node, TestDomain d) =>
        On(node, "virsh", "-c", "qemu:///system", "list", "--name").StandardOutput.Split('\n').Contains(d.Name);

    /// <summary>Plugs every node into <paramref name="lab"/>'s network (n1 at .201, n2 at .202), once.</summary>
    public void ConnectTo(GlusterLab lab)
    {
        for (int i = 0; i < Nodes.Length; i++)
        {
            var ip = lab.Address(201 + i);
            if (!On(Nodes[i], "ip", "-o", "addr").StandardOutput.Contains($"{ip}/")) lab.Attach($"kvmlab-{Nodes[i]}", ip);
        }
    }

    /// <summary>An address on the lab network: n1 is .1, n2 .2; BMCs take others.</summary>
    public static string Address(int host) => $"10.78.0.{host}";

    /// <summary>SIGSTOPs every process of the node (a hung host), or only those named <paramref name="process"/>
    /// (corosync: the node stops answering the cluster while the rest of it runs on).</summary>
    public void Freeze(string node, string? process = null) => Sh.Ok(Lab(["node-freeze", node, .. process is null ? [] : new[] { process }]));

    /// <summary>The node's processes; none once it is powered off.</summary>
    public List<HostProcess> ProcessesOf(string node) =>
        [.. Sh.Ok(Lab("node-pids", node)).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(pid => HostProcess.Of(int.Parse(pid))).OfType<HostProcess>()];

    /// <summary>Starts the node's BMC: OpenIPMI's ipmi_sim speaking IPMI 2.0 (RMCP+) at
    /// <paramref name="address"/>:623 on the lab network, user admin; its chassis is the node (power
    /// off kills it, power on starts it). It runs outside the node, so it outlives it.</summary>
    public void BmcUp(string node, string address, string password) =>
        Sh.Ok(Cli.Wrap(_lab).WithArguments(["bmc-up", node, address])
            .WithEnvironmentVariables(e => e.Set("KVMLAB_DIR", _state).Set("KVMLAB_BMC_PASSWORD", password)), TimeSpan.FromSeconds(30));

    /// <summary>The node's BMC dies (its ipmi_sim killed, its address gone); the node runs on.</summary>
    public void BmcDown(string node) => Sh.Ok(Lab("bmc-down", node));

    public bool BmcRuns(string node) =>
        Path.Combine(_state, "nodes", node, "bmc", "sim.pid") is var pid && File.Exists(pid) && Sh.Run("kill", "-0", File.ReadAllText(pid).Trim()).Succeeded;

    /// <summary>What the node's BMC did to its chassis: a line "[kvmlab HH:MM:SS.mmm] NODE: chassis set power 0|1" per change.</summary>
    public string ChassisLog(string node) =>
        Path.Combine(_state, "nodes", node, "bmc", "chassis.log") is var log && File.Exists(log) ? File.ReadAllText(log) : "";

    public void Dispose()
    {
        Sh.Run(Lab("down"), TimeSpan.FromMinutes(3));
        foreach (var node in Nodes)
        {
            var d = Path.Combine(_state, "nodes", node);
            var logs = Directory.CreateDirectory(Path.Combine(Repo.Build, "test-logs", "kvmlab-" + node)).FullName;
            foreach (var (from, name) in new[] { ("log-pacemaker/pacemaker.log", "pacemaker.log"), ("log-corosync/corosync.log", "corosync.log"), ("libvirtd.log", "libvirtd.log"),
                         ("bmc/chassis.log", "bmc-chassis.log"), ("bmc/sim.out", "bmc-ipmi_sim.log") })
                if (File.Exists(Path.Combine(d, from))) File.Copy(Path.Combine(d, from), Path.Combine(logs, name), overwrite: true);
        }
        Directory.Delete(_state, recursive: true);
        Directory.Delete(SharedDirectory, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class KvmClusterCollection : ICollectionFixture<KvmCluster>, ICollectionFixture<GlusterThreeNodes>
{
    public const string Name = "kvm cluster";
}
