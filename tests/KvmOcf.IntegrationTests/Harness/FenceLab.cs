using System.Xml.Linq;

namespace KvmOcf.IntegrationTests.Harness;

/// <summary>The lab cluster (<see cref="KvmCluster"/>) fenced by KvmOcf's own agents through
/// pacemaker-fenced: a BMC per node (ipmi_sim on the lab network, its chassis the node), a
/// <c>fence_bmc</c> device per node that avoids its own node (fencing level 1), and one
/// <c>fence_gluster</c> device that cuts either node off the gluster lab's volume at the node's
/// address on the gluster network (level 2). The test agent's device is disabled meanwhile, so
/// nothing else can fence. Set up by the first test that asks (<see cref="Prepare"/>), undone on
/// disposal: devices, levels and their fence history deleted, the test agent's device enabled
/// again, the BMCs stopped, both nodes online.</summary>
public sealed class FenceLab : IDisposable
{
    /// <summary>The lab BMCs' password (a test secret).</summary>
    public const string Password = "kvmocf-lab-bmc";
    public const string Gluster = "fence-gluster";
    private const string LabDevice = "fence-lab";
    private KvmCluster? _cluster;
    private GlusterLab? _gluster;
    private readonly List<string> _devices = [];

    /// <summary>Each pcs command that configured the fencing, with what it answered.</summary>
    public List<(string Command, ToolResult Result)> Configuration { get; } = [];

    public static string Bmc(string node) => $"fence-bmc-{node}";
    public static string BmcAddress(string node) => KvmCluster.Address(100 + Index(node));
    private static int Index(string node) => Array.IndexOf(KvmCluster.Nodes, node) + 1;

    /// <summary>The node's address on the gluster network (as <see cref="KvmCluster.ConnectTo"/> gives it).</summary>
    public string GlusterAddress(string node) => _gluster!.Address(200 + Index(node));

    public static string Install(string agent) => Installed.Fence(agent, Path.Combine(Repo.StagedRoot, "usr/sbin", agent));

    public void Prepare(KvmCluster cluster, GlusterLab gluster)
    {
        if (_cluster is not null) return;
        (_cluster, _gluster) = (cluster, gluster);
        foreach (var agent in new[] { "fence_bmc", "fence_gluster", "fence_kvm" }) Install(agent);
        cluster.ConnectTo(gluster);
        foreach (var node in KvmCluster.Nodes) cluster.BmcUp(node, BmcAddress(node), Password);
        Pcs("stonith", "disable", LabDevice);

        foreach (var node in KvmCluster.Nodes)
        {
            Create(Bmc(node), "fence_bmc", $"ip={BmcAddress(node)}", "username=admin", $"password={Password}", $"pcmk_host_list={node}");
            Pcs("constraint", "location", Bmc(node), "avoids", node);
        }
        // glusterd changes a volume only for a CLI on its local socket: a hyperconverged node has its own
        // glusterd; the lab's nodes have none and use storage node 1's (a path all namespaces see)
        Create(Gluster, "fence_gluster", $"volumes={gluster.Volume}", $"servers={string.Join(' ', Enumerable.Range(1, gluster.NodeCount).Select(gluster.Server))}",
            $"glusterd_socket={gluster.ManagementSocket(1)}", "pcmk_host_map=" + string.Join(';', KvmCluster.Nodes.Select(n => $"{n}:{GlusterAddress(n)}")),
            "meta", "provides=unfencing");   // without it the scheduler never unfences (the metadata's automatic "on" is for the fencer)
        foreach (var node in KvmCluster.Nodes)
        {
            Pcs("stonith", "level", "add", "1", node, Bmc(node));
            Pcs("stonith", "level", "add", "2", node, Gluster);
        }
        Pcs("stonith", "level", "verify");
        Settle();
    }

    /// <summary>Creates a fence device with <c>pcs stonith create</c> (no --force); deleted on disposal.</summary>
    public ToolResult Create(string id, string agent, params string[] options)
    {
        _devices.Add(id);
        return Pcs(["stonith", "create", id, agent, .. options]);
    }

    public void Delete(string id)
    {
        _cluster!.On("n1", "pcs", "stonith", "delete", id);
        _devices.Remove(id);
    }

    private ToolResult Pcs(params string[] arguments)
    {
        var r = _cluster!.On("n1", ["pcs", .. arguments]);
        Configuration.Add(("pcs " + string.Join(' ', arguments.Select(a => a.Contains(' ') ? $"'{a}'" : a)), r));
        if (!r.Succeeded) throw new InvalidOperationException($"pcs {string.Join(' ', arguments)} exited {r.ExitCode}: {r.StandardError}");
        return r;
    }

    /// <summary>Waits until the cluster has nothing left to do (devices started, nodes unfenced).</summary>
    public void Settle() => _cluster!.On("n1", "crm_resource", "--wait", "--timeout=120s");

    /// <summary>The fence history of <paramref name="target"/> ("*": every node) as the node <paramref name="observer"/> knows it.</summary>
    public List<XElement> History(string target, string observer = "n1") =>
        XmlOutput.TryParse(_cluster!.On(observer, "stonith_admin", "--history", target, "--verbose", "--output-as=xml").StandardOutput)?
            .Descendants("fence_event").ToList() ?? [];

    /// <summary>Puts the lab back as the tests expect it: both BMCs answering, every node running
    /// (a frozen one killed and started again) and online, failures of the devices cleaned up.</summary>
    public void Restore()
    {
        if (_cluster is not { } cluster) return;
        foreach (var node in KvmCluster.Nodes)
        {
            if (!cluster.BmcRuns(node)) cluster.BmcUp(node, BmcAddress(node), Password);
            var pids = cluster.ProcessesOf(node).Select(p => p.Pid).ToList();
            if (pids.Any(Stopped) || !pids.Any(p => Comm(p) == "corosync"))
            {
                cluster.KillNode(node);
                cluster.StartNode(node);
            }
        }
        cluster.WaitOnline(KvmCluster.Nodes);
        cluster.On("n1", "pcs", "stonith", "cleanup");
        Settle();
    }

    private static bool Stopped(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/stat") is var s && s[(s.LastIndexOf(')') + 2)] == 'T'; }
        catch (IOException) { return false; }
    }

    private static string? Comm(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/comm").Trim(); }
        catch (IOException) { return null; }
    }

    public void Dispose()
    {
        if (_cluster is not { } cluster) return;
        try { Restore(); }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException) { }
        foreach (var node in KvmCluster.Nodes) cluster.On("n1", "pcs", "stonith", "level", "clear", node);
        foreach (var id in _devices.ToList()) Delete(id);
        cluster.On("n1", "pcs", "stonith", "enable", LabDevice);
        foreach (var node in KvmCluster.Nodes) cluster.BmcDown(node);
        cluster.On("n1", "stonith_admin", "--history", "*", "--cleanup");
        foreach (var node in KvmCluster.Nodes)
            foreach (var cached in Directory.Exists("/run/kvmocf") ? Directory.GetFiles("/run/kvmocf", $"fence_bmc-{BmcAddress(node)}-*") : [])
                File.Delete(cached);
        Settle();
    }
}
