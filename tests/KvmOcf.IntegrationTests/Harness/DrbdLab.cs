using System.Xml.Linq;

namespace KvmOcf.IntegrationTests.Harness;

/// <summary>Real DRBD 8.4 in two QEMU TCG guests a and b (tests/lab/drbdlab): the host's kernel has
/// no DRBD, the guests' Debian kernel does. They run the host's userland (pacemaker, corosync,
/// drbd-utils, resource-agents) over 9p under a tmpfs overlay, and the agent and fence-peer handler
/// of build/root; corosync + pacemaker form a 2-node cluster of a and b (no STONITH). The guest image
/// is built once (build/drbd-guest). Both guests are powered off on disposal.</summary>
public sealed class DrbdLab : IDisposable
{
    private readonly string _lab = Path.Combine(Repo.Root, "tests/lab/drbdlab");
    private readonly string _state = Directory.CreateTempSubdirectory("kvmocf-drbdlab-").FullName;
    public const string Agent = "/usr/lib/ocf/resource.d/kvmocf/DrbdDevice";
    /// <summary>The directory of the crm_attribute that records its calls (drbdlab-node).</summary>
    public const string RecordingPath = "/usr/local/lib/drbdlab-record";

    public DrbdLab() : this(bmc: false) { }

    /// <summary>With <paramref name="bmc"/>: a BMC per guest (drbdlab up --bmc), see <see cref="DrbdStonithLab"/>.</summary>
    internal DrbdLab(bool bmc)
    {
        Packages.Ensure("drbd-utils", "qemu-system-x86", "kmod", "cpio", "pacemaker", "pacemaker-cli-utils", "corosync", "resource-agents", "python3");
        if (bmc) Packages.Ensure("openipmi", "ipmitool");
        Repo.RequireBuild();
        try { Sh.Ok(bmc ? Lab("up", "--pacemaker", "--bmc") : Lab("up", "--pacemaker"), TimeSpan.FromMinutes(8)); }
        catch
        {
            Dispose();
            throw;
        }
    }

    private Command Lab(params string[] arguments) =>
        Cli.Wrap(_lab).WithArguments(arguments).WithEnvironmentVariables(e => e.Set("DRBDLAB_DIR", _state));

    /// <summary>A promotable clone ms_drbd_RESOURCE of ocf:kvmocf:DrbdDevice for the guests' cluster,
    /// as an admin configures one (notify, promoted-max 1, clone-max 2, a monitor per role).</summary>
    public static string PromotableClone(string resource, int promoteTimeoutSeconds) => $"""
        <clone id="ms_drbd_{resource}">
          <meta_attributes id="ms_drbd_{resource}-meta">
            <nvpair id="ms_drbd_{resource}-promotable" name="promotable" value="true"/>
            <nvpair id="ms_drbd_{resource}-promoted-max" name="promoted-max" value="1"/>
            <nvpair id="ms_drbd_{resource}-clone-max" name="clone-max" value="2"/>
            <nvpair id="ms_drbd_{resource}-notify" name="notify" value="true"/>
            <nvpair id="ms_drbd_{resource}-stickiness" name="resource-stickiness" value="100"/>
          </meta_attributes>
          <primitive id="drbd_{resource}" class="ocf" provider="kvmocf" type="DrbdDevice">
            <instance_attributes id="drbd_{resource}-ia"><nvpair id="drbd_{resource}-res" name="drbd_resource" value="{resource}"/></instance_attributes>
            <operations>
              <op id="drbd_{resource}-start" name="start" interval="0" timeout="240s"/>
              <op id="drbd_{resource}-stop" name="stop" interval="0" timeout="100s"/>
              <op id="drbd_{resource}-promote" name="promote" interval="0" timeout="{promoteTimeoutSeconds}s"/>
              <op id="drbd_{resource}-demote" name="demote" interval="0" timeout="90s"/>
              <op id="drbd_{resource}-notify" name="notify" interval="0" timeout="90s"/>
              <op id="drbd_{resource}-mon-p" name="monitor" interval="10s" timeout="30s" role="Promoted"/>
              <op id="drbd_{resource}-mon-u" name="monitor" interval="20s" timeout="30s" role="Unpromoted"/>
            </operations>
          </primitive>
        </clone>
        """;

    /// <summary>Where the guests' shared directory is on the host (/share in the guests).</summary>
    public string Share => Path.Combine(_state, "share");

    /// <summary>A bash script in <paramref name="node"/>; its output and exit code.</summary>
    public ToolResult Exec(string node, string script, TimeSpan? timeout = null) =>
        Sh.Run(Lab("exec", node, script), timeout ?? TimeSpan.FromMinutes(3));

    public ToolResult Ok(string node, string script, TimeSpan? timeout = null)
    {
        var r = Exec(node, script, timeout);
        if (!r.Succeeded) throw new InvalidOperationException($"{node}: {script} exited {r.ExitCode}\n{r.StandardOutput}\n{r.StandardError}");
        return r;
    }

    /// <summary>Runs the agent in <paramref name="node"/> as pacemaker would (a clean environment).</summary>
    public AgentRun Run(string node, string action, IReadOnlyDictionary<string, string> parameters, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? extra = null) =>
        AgentRun.Run(Agent, action, parameters, timeout ?? TimeSpan.FromSeconds(60),
            ["env", $"DRBDLAB_DIR={_state}", _lab, "exec", node], extra);

    /// <summary>The UDP port of <paramref name="node"/>'s BMC on the host's loopback (10.0.2.2 from the guests); --bmc only.</summary>
    public int BmcPort(string node) => int.Parse(File.ReadAllText(Path.Combine(_state, $"bmc-{node}", "port")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>What <paramref name="node"/>'s BMC did to its chassis (drbdlab's chassis log: "set power 0", "OFF", "ON boot pid …").</summary>
    public string[] ChassisLog(string node) =>
        Path.Combine(_state, $"bmc-{node}", "chassis.log") is var f && File.Exists(f) ? File.ReadAllLines(f) : [];

    /// <summary>Power loss: SIGKILL of the node's qemu (its BMC then reports power off).</summary>
    public void Kill(string node) => Sh.Ok(Lab("kill", node));

    /// <summary>Whether the node's command loop answers (it is up, or up again).</summary>
    public bool Answers(string node)
    {
        try { return Exec(node, "true", TimeSpan.FromSeconds(30)).Succeeded; }
        catch (TimeoutException) { return false; }
    }

    /// <summary>Plugs or pulls <paramref name="node"/>'s replication cable (eth1); corosync stays on eth0.</summary>
    public void Link(string node, bool up) => Sh.Ok(Lab("link", node, up ? "up" : "down"));

    /// <summary>/proc/drbd's line for a minor, e.g. "cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate".</summary>
    public string State(string node, int minor)
    {
        var line = Exec(node, "cat /proc/drbd").StandardOutput.Split('\n').FirstOrDefault(l => l.TrimStart().StartsWith($"{minor}: "));
        return line is null ? "" : string.Join(' ', line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(3));
    }

    /// <summary>Waits (polling inside the guest) until the minor's state contains every word given.</summary>
    /// <summary>First-time setup of resource r<paramref name="minor"/>'s blank disks on both guests, outside
    /// pacemaker, as an admin does: connect, a new current UUID without an initial sync, both UpToDate,
    /// then down again for pacemaker to start.</summary>
    public void FreshPair(int minor)
    {
        foreach (var n in new[] { "a", "b" }) { Exec(n, $"drbdadm down r{minor}"); Ok(n, $"drbdadm up r{minor}"); }
        Assert.True(WaitFor("a", minor, TimeSpan.FromSeconds(60), "cs:Connected"), State("a", minor));
        Ok("a", $"drbdadm -- --clear-bitmap new-current-uuid r{minor}");
        Assert.True(WaitFor("a", minor, TimeSpan.FromSeconds(30), "ds:UpToDate/UpToDate"), State("a", minor));
        foreach (var n in new[] { "a", "b" }) Ok(n, $"drbdadm down r{minor}");
    }

    public bool WaitFor(string node, int minor, TimeSpan timeout, params string[] words) =>
        Sh.Eventually(() => State(node, minor) is var s && words.All(s.Contains), timeout);

    /// <summary>md5 of the first MiB of /dev/drbdN (DRBD 8.4 lets only a Primary open it).</summary>
    public string Checksum(string node, int minor) =>
        Ok(node, $"set -o pipefail; dd if=/dev/drbd{minor} bs=1M count=1 iflag=direct 2>/dev/null | md5sum | cut -c1-32").StandardOutput.Trim();

    /// <summary>The CIB as the node sees it.</summary>
    public XElement Cib(string node = "a") => XElement.Parse(Ok(node, "cibadmin --query").StandardOutput);

    /// <summary>A node's promotion score for a resource as attrd holds it (the real pacemaker), or null.</summary>
    public string? PromotionScore(string node, string instance)
    {
        var r = Exec(node, $"crm_attribute --promotion={instance} --node {node} --query --output-as=xml");
        return XmlOutput.TryParse(r.StandardOutput)?.Descendants("attribute").FirstOrDefault()?.Attribute("value")?.Value;
    }

    /// <summary>The crm_attribute calls <paramref name="node"/>'s recorder saw, one per line, then forgets them.</summary>
    public List<string> TakeCalls(string node)
    {
        var file = Path.Combine(Share, "calls", node);
        var calls = File.Exists(file) ? File.ReadAllLines(file).ToList() : [];
        File.Delete(file);
        return calls;
    }

    /// <summary>The consoles and daemon logs, for a failing test.</summary>
    public string Console(string node) => File.Exists(Path.Combine(_state, $"{node}.log")) ? File.ReadAllText(Path.Combine(_state, $"{node}.log")) : "";

    public void Dispose()
    {
        try { Sh.Run(Lab("down"), TimeSpan.FromMinutes(3)); }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException) { }
        var logs = Path.Combine(Repo.Build, "test-logs", "drbdlab");
        try
        {
            Directory.CreateDirectory(logs);
            foreach (var f in Directory.GetFiles(_state, "*.log")) File.Copy(f, Path.Combine(logs, Path.GetFileName(f)), overwrite: true);
            if (Directory.Exists(Path.Combine(Share, "logs")))
                foreach (var f in Directory.GetFiles(Path.Combine(Share, "logs"), "*", SearchOption.AllDirectories))
                    File.Copy(f, Path.Combine(logs, Path.GetRelativePath(Path.Combine(Share, "logs"), f).Replace('/', '-')), overwrite: true);
        }
        catch (IOException) { }
        Directory.Delete(_state, recursive: true);
    }
}

/// <summary>The drbd lab with a BMC per guest (tests/lab/ipmilab's ipmi_sim on the host, whose
/// chassis power is the guest's qemu, reached by the guests over QEMU user networking), for
/// STONITH in the guests' cluster, and the resource r3 (fencing resource-and-stonith). Its own
/// lab: a test here powers guests off. The BMCs are stopped on disposal.</summary>
public sealed class DrbdStonithLab : IDisposable
{
    public DrbdLab Lab { get; } = new(bmc: true);

    public void Dispose() => Lab.Dispose();
}

[CollectionDefinition(Name)]
public sealed class DrbdStonithCollection : ICollectionFixture<DrbdStonithLab>
{
    public const string Name = "drbd-stonith";
}

[CollectionDefinition(Name)]
public sealed class DrbdCollection : ICollectionFixture<DrbdLab>
{
    public const string Name = "drbd";
}
