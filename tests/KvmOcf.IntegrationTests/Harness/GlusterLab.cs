namespace KvmOcf.IntegrationTests.Harness;

/// <summary>Real glusterd nodes, each in its own network and mount namespace (tests/lab/glusterlab),
/// a replica-3 volume with network.ping-timeout 5 s, and a client network namespace from which the
/// agent mounts it (the mount itself is visible in the machine's mount namespace). Stopped by PID,
/// namespaces removed, on disposal.</summary>
public abstract class GlusterLab : IDisposable
{
    private readonly string _prefix, _net;
    private readonly string _state = Directory.CreateTempSubdirectory("kvmocf-gluster-").FullName;

    protected GlusterLab(string prefix, string net, int nodes, string volume)
    {
        (_prefix, _net, Volume) = (prefix, net, volume);
        Packages.Ensure("glusterfs-server", "glusterfs-client", "fuse3", "iproute2");
        try
        {
            Sh.Ok(Lab("up", nodes.ToString()), TimeSpan.FromMinutes(2));
            Sh.Ok(Lab("mkvol", volume, "3"), TimeSpan.FromMinutes(2));
            Sh.Ok(Lab("client", Client, $"{net}.100"));
        }
        catch
        {
            Dispose();
            throw;
        }
        NodeCount = nodes;
    }

    public string Volume { get; }
    public int NodeCount { get; }
    public string Client => $"{_prefix}-c";
    /// <summary>An address on the lab's network: .11, .12 … are the nodes, .100 the client.</summary>
    public string Address(int host) => $"{_net}.{host}";
    public string Server(int node) => Address(10 + node);
    public string Device => $"{Server(1)}:/{Volume}";
    public string BackupServers => string.Join(':', Enumerable.Range(2, Math.Max(0, NodeCount - 1)).Select(Server));

    /// <summary>Runs a program where it can reach the gluster nodes (the client's network namespace).</summary>
    public string[] ClientPrefix => ["nsenter", $"--net=/run/netns/{Client}", "--"];

    public Command Lab(params string[] arguments) => Cli.Wrap(Path.Combine(Repo.Root, "tests/lab/glusterlab")).WithArguments(arguments)
        .WithEnvironmentVariables(e => e.Set("GLUSTERLAB_DIR", _state).Set("GLUSTERLAB_PREFIX", _prefix).Set("GLUSTERLAB_NET", _net));

    /// <summary>Where node <paramref name="node"/> keeps its bricks (one directory per brick).</summary>
    public string BrickDirectory(int node) => Path.Combine(_state, $"g{node}", "brick");

    /// <summary>Node <paramref name="node"/>'s glusterd management socket, the only way to change a
    /// volume (over the network glusterd is read-only); a path every namespace of the machine sees.</summary>
    public string ManagementSocket(int node) => Path.Combine(_state, $"g{node}", "run", "glusterd.socket");

    public void KillBricks(int node) => Sh.Ok(Lab("killbricks", node.ToString()));
    public void Suspend(int node) => Sh.Ok(Lab("suspend", node.ToString()));
    public void Resume(int node) => Sh.Ok(Lab("resume", node.ToString()));
    public void KillAllBricks() { foreach (var node in Nodes) KillBricks(node); }
    public void SuspendAll() { foreach (var node in Nodes) Suspend(node); }
    public void ResumeAll() { foreach (var node in Nodes) Resume(node); }
    private IEnumerable<int> Nodes => Enumerable.Range(1, NodeCount);
    public ToolResult Gluster(params string[] arguments) => Sh.Run(Lab(["gl", "1", .. arguments]));

    /// <summary>How many bricks glusterd says are online.</summary>
    public int OnlineBricks()
    {
        return XmlOutput.TryParse(Gluster("volume", "status", Volume, "--xml").StandardOutput)?.Descendants("node")
            .Count(n => n.Element("path")?.Value.StartsWith('/') == true && n.Element("status")?.Value == "1") ?? 0;
    }

    /// <summary>Brings every brick back (after a fault test) and waits until all are online.</summary>
    public void Heal()
    {
        foreach (var node in Nodes) Sh.Run(Lab("resume", node.ToString()));
        // glusterd takes a killed brick that is not yet reaped for a running one: ask again until all are up
        bool healed = Sh.Eventually(() =>
        {
            if (OnlineBricks() == 3) return true;
            Gluster("volume", "start", Volume, "force");
            return false;
        }, TimeSpan.FromSeconds(60));
        if (!healed) throw new InvalidOperationException($"volume {Volume} did not heal");
    }

    /// <summary>Kills glusterd on every node (bricks keep running); <see cref="StartGlusterd"/> undoes it.</summary>
    public void StopGlusterd()
    {
        foreach (var node in Nodes)
        {
            var pid = File.ReadAllText(Path.Combine(_state, $"g{node}", "glusterd.pid")).Trim();
            Sh.Run("kill", "-KILL", pid);
        }
    }

    /// <summary>SIGSTOPs glusterd on every node (bricks keep serving): a CLI query then hangs.
    /// <see cref="Heal"/> (or <see cref="Resume"/>) lets it go on.</summary>
    public void SuspendGlusterd()
    {
        foreach (var node in Nodes)
            Sh.Run("kill", "-STOP", File.ReadAllText(Path.Combine(_state, $"g{node}", "glusterd.pid")).Trim());
    }

    /// <summary>Kills glusterd on one node (its bricks keep serving); <see cref="RestartGlusterd"/> undoes it.</summary>
    public void KillGlusterd(int node) =>
        Sh.Run("kill", "-KILL", File.ReadAllText(Path.Combine(_state, $"g{node}", "glusterd.pid")).Trim());

    public bool GlusterdRunning(int node) =>
        int.TryParse(File.ReadAllText(Path.Combine(_state, $"g{node}", "glusterd.pid")).Trim(), out var pid) && Daemons.IsAlive(pid);

    /// <summary>Starts node <paramref name="node"/>'s glusterd again and waits until it serves the
    /// volume (<see cref="WaitVolumeServed"/>).</summary>
    public void RestartGlusterd(int node)
    {
        Sh.Ok(Lab("restart-glusterd", node.ToString()), TimeSpan.FromSeconds(60));
        WaitVolumeServed(node);
    }

    public void StartGlusterd()
    {
        foreach (var node in Nodes) Sh.Ok(Lab("restart-glusterd", node.ToString()), TimeSpan.FromSeconds(60));
        foreach (var node in Nodes) WaitVolumeServed(node);
    }

    /// <summary>Waits until node <paramref name="node"/>'s glusterd answers <c>volume status</c> for the
    /// volume. A glusterd restarted while its bricks ran on may go on saying "Volume … is not started"
    /// (seen on GlusterFS 10.3, only on the restarted node); <c>volume start force</c> then brings it round.</summary>
    public void WaitVolumeServed(int node)
    {
        bool Served() => Sh.Run(Lab("gl", node.ToString(), "volume", "status", Volume)) is var r && r.Succeeded && !r.StandardOutput.Contains("not started");
        if (Sh.Eventually(Served, TimeSpan.FromSeconds(30))) return;
        Sh.Run(Lab("gl", node.ToString(), "volume", "start", Volume, "force"), TimeSpan.FromSeconds(60));
        if (!Sh.Eventually(Served, TimeSpan.FromSeconds(30)))
            throw new InvalidOperationException($"glusterd of node {node} does not serve {Volume}");
    }

    /// <summary>Plugs an existing network namespace (a lab node) into the gluster network.</summary>
    public void Attach(string netns, string ip) => Sh.Ok(Lab("attach", netns, ip));

    public void Dispose()
    {
        Sh.Run(Lab("down"), TimeSpan.FromMinutes(2));
        try { Directory.Delete(_state, recursive: true); } catch (IOException) { }
    }
}

/// <summary>One glusterd node with a replica-3 volume of three local bricks (force).</summary>
public sealed class GlusterSingleNode() : GlusterLab("kgs", "10.91.0", 1, "sv");

/// <summary>Three glusterd nodes, one brick each.</summary>
public sealed class GlusterThreeNodes() : GlusterLab("kgt", "10.92.0", 3, "gv0");

[CollectionDefinition(Name)]
public sealed class GlusterCollection : ICollectionFixture<GlusterSingleNode>, ICollectionFixture<GlusterThreeNodes>
{
    public const string Name = "gluster";
}
