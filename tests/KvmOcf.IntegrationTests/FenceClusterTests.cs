using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Xml.Linq;
using KvmOcf.IntegrationTests.Harness;
using Xunit.Abstractions;

namespace KvmOcf.IntegrationTests;

/// <summary>The fence agents through pacemaker-fenced on the lab cluster (<see cref="FenceLab"/>):
/// fence_bmc powers lab nodes off and on through a real IPMI 2.0 BMC, fence_gluster cuts a node off
/// the volume when its BMC is dead (fencing topology level 2) and gives it back when it rejoins
/// (automatic unfencing), a hung node running a guest is fenced by pacemaker itself and the guest
/// restarts on the survivor, and fence_kvm fences a guest that stands for a node.</summary>
[Collection(KvmClusterCollection.Name)]
[Trait("Stack", "kvm-cluster")]
public sealed class FenceClusterTests : IClassFixture<FenceLab>, IDisposable
{
    private readonly KvmCluster _cluster;
    private readonly GlusterThreeNodes _gluster;
    private readonly FenceLab _fence;
    private readonly ITestOutputHelper _output;
    private readonly List<Action> _cleanup = [];

    public FenceClusterTests(KvmCluster cluster, GlusterThreeNodes gluster, FenceLab fence, ITestOutputHelper output)
    {
        (_cluster, _gluster, _fence, _output) = (cluster, gluster, fence, output);
        fence.Prepare(cluster, gluster);
        fence.Restore();
    }

    public void Dispose()
    {
        foreach (var undo in Enumerable.Reverse(_cleanup)) undo();
    }

    private ToolResult On(string node, params string[] command) => _cluster.On(node, command);

    private ToolResult Ok(string node, params string[] command)
    {
        var r = On(node, command);
        Assert.True(r.Succeeded, $"{string.Join(' ', command)} on {node} exited {r.ExitCode}: {r.StandardOutput}\n{r.StandardError}");
        return r;
    }

    private static string Other(string node) => node == "n1" ? "n2" : "n1";

    private bool Online(string node, string observer) =>
        _cluster.CrmMon(observer)?.Descendants("node").Any(n => (string?)n.Attribute("name") == node && (string?)n.Attribute("online") == "true") == true;

    /// <summary>The successful fence events of <paramref name="target"/> with <paramref name="action"/>.</summary>
    private List<XElement> Fenced(string target, string action, string observer = "n1") =>
        _fence.History(target, observer).Where(e => (string?)e.Attribute("action") == action && (string?)e.Attribute("status") == "success").ToList();

    /// <summary>The chassis changes the node's BMC made since <paramref name="since"/> ("power 0", "power 1", "reset 1"), with their times.</summary>
    private List<(DateTime At, string Change)> ChassisChanges(string node, DateTime since) =>
        _cluster.ChassisLog(node).Split('\n')
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"^\[kvmlab (\d\d:\d\d:\d\d\.\d\d\d)\] \S+: chassis set (\w+ \d)"))
            .Where(m => m.Success)
            .Select(m => (At: DateTime.Today + TimeSpan.ParseExact(m.Groups[1].Value, @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture), Change: m.Groups[2].Value))
            .Where(c => c.At >= since.AddMilliseconds(-1)).ToList();

    [Fact]
    public void The_agents_are_configured_and_answer_through_pacemaker_fenced()
    {
        // pcs stonith create (FenceLab) for fence_bmc and fence_gluster: no --force, no warning
        foreach (var (command, result) in _fence.Configuration.Where(c => c.Command.StartsWith("pcs stonith create")))
        {
            Assert.True(result.Succeeded, $"{command}: {result.StandardError}");
            Assert.DoesNotContain("arning", result.StandardOutput + result.StandardError);
            _output.WriteLine($"{command}: ok, no warning");
        }
        foreach (var agent in new[] { "fence_bmc", "fence_gluster", "fence_kvm" })
        {
            var describe = Ok("n1", "pcs", "stonith", "describe", agent);
            Assert.Equal("", describe.StandardError.Trim());
            Assert.StartsWith(agent + " - ", describe.StandardOutput);
        }

        // each node's fencer has the devices allowed there: the other node's BMC and the storage
        foreach (var node in KvmCluster.Nodes)
        {
            var registered = Ok(node, "stonith_admin", "--list-registered").StandardOutput;
            Assert.Contains(FenceLab.Bmc(Other(node)), registered);
            Assert.DoesNotContain(FenceLab.Bmc(node), registered);
            Assert.Contains(FenceLab.Gluster, registered);

            var canFence = Ok(Other(node), "stonith_admin", "--list", node).StandardOutput;
            Assert.Contains(FenceLab.Bmc(node), canFence);
            Assert.Contains(FenceLab.Gluster, canFence);

            Ok(Other(node), "stonith_admin", "--query", FenceLab.Bmc(node));      // monitor: the BMC answers
        }
        Ok("n1", "stonith_admin", "--query", FenceLab.Gluster);                   // monitor: glusterd answers
        var levels = Ok("n1", "pcs", "stonith", "level", "config").StandardOutput;
        _output.WriteLine(levels);
        foreach (var node in KvmCluster.Nodes)
            Assert.Matches($@"Target: {node}\s+Level 1 - {FenceLab.Bmc(node)}\s+Level 2 - {FenceLab.Gluster}", levels);
    }

    [Fact]
    public void Stonith_admin_powers_a_node_off_on_and_reboots_it_through_its_BMC()
    {
        const string victim = "n2";
        var timings = new StringBuilder();
        var old = _cluster.ProcessesOf(victim);
        Assert.NotEmpty(old);

        var since = DateTime.Now;
        var off = Ok("n1", "stonith_admin", "--fence", victim, "--timeout", "60");
        timings.Append($"off {off.Elapsed.TotalSeconds:0.0} s");
        Assert.Empty(_cluster.ProcessesOf(victim));                                  // its power is off: every process gone
        Assert.Contains(ChassisChanges(victim, since), c => c.Change == "power 0");
        Assert.NotEmpty(Fenced(victim, "off"));
        Assert.True(Sh.Eventually(() => !Online(victim, "n1"), TimeSpan.FromSeconds(30)), "n1 still sees n2 online");

        // on: fence_bmc powers it on (level 1), then pacemaker runs fence_gluster's automatic "on"
        var on = Ok("n1", "stonith_admin", "--unfence", victim, "--timeout", "60");
        timings.Append($", on {on.Elapsed.TotalSeconds:0.0} s");
        var clock = Stopwatch.StartNew();
        _cluster.WaitOnline("n1", victim);
        timings.Append($" (online {clock.Elapsed.TotalSeconds:0.0} s later)");
        Assert.Contains(ChassisChanges(victim, since), c => c.Change == "power 1");

        old = _cluster.ProcessesOf(victim);
        since = DateTime.Now;
        var reboot = Ok("n1", "stonith_admin", "--reboot", victim, "--timeout", "60");
        timings.Append($", reboot {reboot.Elapsed.TotalSeconds:0.0} s");
        clock.Restart();
        _cluster.WaitOnline("n1", victim);
        timings.Append($" (online {clock.Elapsed.TotalSeconds:0.0} s later)");
        Assert.DoesNotContain(old, p => p.Alive);                                            // every process of before is gone
        Assert.Contains(_cluster.ProcessesOf(victim), p => !old.Contains(p));     // and it runs again
        var changes = ChassisChanges(victim, since).Select(c => c.Change).ToList();
        Assert.Equal(["power 0", "power 1"], changes);
        Assert.NotEmpty(Fenced(victim, "reboot"));
        _output.WriteLine(timings.ToString());
    }

    /// <summary>Events and when they were first seen, relative to the fault.</summary>
    private sealed class Timeline(DateTime start)
    {
        private readonly List<(TimeSpan At, string What)> _events = [];
        public DateTime Start { get; } = start;
        public TimeSpan Now => DateTime.Now - Start;
        public bool Has(string what) => _events.Any(e => e.What == what);
        public TimeSpan? At(string what) => _events.FirstOrDefault(e => e.What == what) is { What: not null } e ? e.At : null;

        /// <summary>Records <paramref name="what"/> the first time <paramref name="seen"/> holds.</summary>
        public void Watch(string what, bool seen)
        {
            if (seen && !Has(what)) _events.Add((Now, what));
        }

        public void Add(DateTime at, string what) => _events.Add((at - Start, what));

        public string Table() =>
            "| event | s |\n|---|---|\n" + string.Concat(_events.OrderBy(e => e.At).Select(e => $"| {e.What} | {e.At.TotalSeconds:0.00} |\n"));
    }

    private void Publish(string name, string title, Timeline timeline)
    {
        var text = $"{title}\n\n{timeline.Table()}";
        _output.WriteLine(text);
        var results = Directory.CreateDirectory(Path.Combine(Repo.Build, "test-results")).FullName;
        File.WriteAllText(Path.Combine(results, name), text);
    }

    private const string MountPoint = "/mnt/kvmocf-fence";

    /// <summary>A synced write to the volume from <paramref name="node"/> works (a node cut off the volume
    /// loses its mount: a write into the bare directory does not count).</summary>
    private bool Writes(string node) =>
        On(node, "sh", "-c", $"mountpoint -q {MountPoint} && timeout 8 dd if=/dev/zero of={MountPoint}/probe-{node} bs=4k count=1 conv=fsync").Succeeded;

    private string[] Rejected() =>
        (XmlOutput.TryParse(_gluster.Gluster("volume", "get", _gluster.Volume, "auth.reject", "--xml").StandardOutput)?
            .Descendants("Value").FirstOrDefault()?.Value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [Fact]
    public void With_its_BMC_dead_a_node_is_cut_off_the_storage_at_level_2_and_unfenced_when_it_rejoins()
    {
        const string victim = "n2";
        var address = _fence.GlusterAddress(victim);
        // the volume cloned on both nodes; it requires unfencing (the default once a device unfences automatically)
        _cleanup.Add(() =>
        {
            On("n1", "pcs", "resource", "delete", "fencefs", "--force");
            foreach (var node in KvmCluster.Nodes) On(node, "umount", "-l", MountPoint);
        });
        Ok("n1", "pcs", "resource", "create", "fencefs", "ocf:kvmocf:GlusterMount", $"device={_gluster.Device}", $"directory={MountPoint}",
            $"backup_volfile_servers={_gluster.BackupServers}", "op", "monitor", "interval=10s", "clone");
        Assert.True(Sh.Eventually(() => Writes("n1") && Writes(victim), TimeSpan.FromSeconds(90)), "the clone did not mount on both nodes");
        var targets = Ok("n1", "stonith_admin", "--list-targets", FenceLab.Gluster).StandardOutput;   // fence_gluster list: the volume's clients
        Assert.Contains(address, targets);
        Assert.DoesNotContain(address, Rejected());

        var before = Fenced(victim, "reboot").Count;
        _cluster.BmcDown(victim);
        var timeline = new Timeline(DateTime.Now);
        _cluster.Freeze(victim, "corosync");                                      // it stops answering the cluster; the rest runs on
        timeline.Watch($"{victim}'s corosync stopped (SIGSTOP), its BMC dead", true);
        Assert.True(Sh.Eventually(() =>
        {
            timeline.Watch($"n1 sees {victim} lost", !Online(victim, "n1"));
            timeline.Watch($"auth.reject lists {victim}'s address {address}", Rejected().Contains(address));
            timeline.Watch($"fence of {victim} reported done (stonith_admin --history)", Fenced(victim, "reboot").Count > before);
            return timeline.Has($"fence of {victim} reported done (stonith_admin --history)");
        }, TimeSpan.FromSeconds(120)), $"{victim} was not fenced: " + string.Join("\n", _fence.History(victim).Select(e => e.ToString())));
        Assert.Contains(address, Rejected());
        Assert.True(Sh.Eventually(() => !Writes(victim), TimeSpan.FromSeconds(30)), $"{victim} still writes to the volume");
        timeline.Watch($"{victim}'s client fails to write", true);
        Assert.True(Writes("n1"), "the survivor lost the volume too");

        // level 1 failed (the BMC does not answer), level 2 fenced
        var log = Ok("n1", "cat", "/var/log/pacemaker/pacemaker.log").StandardOutput.Split('\n');
        var bmcFailed = log.Where(l => l.Contains($"using {FenceLab.Bmc(victim)} returned 1")).ToList();
        Assert.NotEmpty(bmcFailed);
        Assert.Contains(log, l => l.Contains($"targeting {victim} using {FenceLab.Gluster} returned 0"));
        _output.WriteLine(string.Join("\n", log.Where(l => l.Contains($"targeting {victim} using")).TakeLast(6)));

        // the admin resets it by hand (storage fencing reboots nothing) and its BMC comes back; it rejoins and
        // pacemaker unfences it ("on": fence_bmc at level 1, then fence_gluster, which unfences automatically)
        var unfencedBefore = Fenced(victim, "on").Count;
        _cluster.KillNode(victim);
        _cluster.BmcUp(victim, FenceLab.BmcAddress(victim), FenceLab.Password);
        _cluster.StartNode(victim);
        timeline.Watch($"{victim} reset by hand", true);
        Assert.True(Sh.Eventually(() =>
        {
            timeline.Watch($"{victim} online again", Online(victim, "n1"));
            timeline.Watch($"{victim} unfenced (stonith_admin --history)", Fenced(victim, "on").Count > unfencedBefore);
            timeline.Watch($"auth.reject no longer lists {victim}", !Rejected().Contains(address));
            timeline.Watch($"{victim} writes to the volume again", timeline.Has($"{victim} online again") && Writes(victim));
            return timeline.Has($"{victim} writes to the volume again") && timeline.Has($"auth.reject no longer lists {victim}");
        }, TimeSpan.FromSeconds(120)), $"{victim} did not get the volume back: auth.reject={string.Join(',', Rejected())}");
        Assert.True(timeline.At($"auth.reject no longer lists {victim}") <= timeline.At($"{victim} writes to the volume again"));
        Publish("fence-topology-timeline.md", $"Storage fencing at level 2 ({victim}'s BMC dead), seconds from the fault:", timeline);
    }

    [Fact]
    public void Pacemaker_fences_a_hung_node_through_its_BMC_and_restarts_its_guest_on_the_survivor()
    {
        var d = new TestDomain($"kvmocf-fo-{Guid.NewGuid().ToString()[..6]}", _cluster.SharedDirectory, _cluster.GuestDirectory, TestDomain.Kind.BusyboxNoAgent);
        _cleanup.Add(() =>
        {
            On("n1", "pcs", "resource", "delete", d.Name, "--force");
            foreach (var node in KvmCluster.Nodes) On(node, "virsh", "-c", "qemu:///system", "destroy", d.Name);
        });
        Ok("n1", "pcs", "resource", "create", d.Name, "ocf:kvmocf:VirtualDomain", $"config={d.ConfigPath}", "op", "monitor", "interval=5s");
        string? victim = null;
        Assert.True(Sh.Eventually(() => (victim = _cluster.LocationOf(d.Name)) is not null && _cluster.RunsOn(victim, d), TimeSpan.FromSeconds(90)),
            "the guest did not start");
        var survivor = Other(victim!);
        var old = _cluster.ProcessesOf(victim!);
        var before = Fenced(victim!, "reboot", survivor).Count;

        var timeline = new Timeline(DateTime.Now);
        _cluster.Freeze(victim!);                                                 // the host hangs: every process stopped
        timeline.Watch($"{victim} hangs (all its processes SIGSTOPped), the guest on it", true);
        Assert.True(Sh.Eventually(() =>
        {
            timeline.Watch($"{survivor} sees {victim} lost", !Online(victim!, survivor));
            timeline.Watch($"fence of {victim} reported done (stonith_admin --history)", Fenced(victim!, "reboot", survivor).Count > before);
            timeline.Watch($"guest Started on {survivor} (crm_mon)", _cluster.LocationOf(d.Name, survivor) == survivor);
            timeline.Watch($"guest runs in {survivor}'s libvirtd", _cluster.RunsOn(survivor, d));
            timeline.Watch($"{victim} online again", timeline.Has($"fence of {victim} reported done (stonith_admin --history)") && Online(victim!, survivor));
            return timeline.Has($"guest runs in {survivor}'s libvirtd") && timeline.Has($"{victim} online again");
        }, TimeSpan.FromSeconds(180)), $"no failover: {timeline.Table()}");
        foreach (var (at, change) in ChassisChanges(victim!, timeline.Start))
            timeline.Add(at, $"{victim}'s BMC: chassis {(change == "power 0" ? "power off (node killed)" : change == "power 1" ? "power on (node starts)" : change)}");
        Publish("fence-failover-timeline.md", $"Failover: {victim} hangs with the guest, {survivor} fences it through fence_bmc and restarts the guest; seconds from the hang:", timeline);

        var fence = Fenced(victim!, "reboot", survivor).First();
        Assert.Equal(survivor, (string?)fence.Attribute("delegate"));
        Assert.Equal(["power 0", "power 1"], ChassisChanges(victim!, timeline.Start).Select(c => c.Change));
        Assert.DoesNotContain(old, p => p.Alive);                                             // the hung host was really powered off
        Assert.Single(d.QemuPids());
        Assert.False(_cluster.RunsOn(victim!, d));
        Assert.True(timeline.At($"fence of {victim} reported done (stonith_admin --history)") <= timeline.At($"guest runs in {survivor}'s libvirtd"));
    }

    [Fact]
    public void Fence_kvm_fences_a_guest_that_stands_for_a_node()
    {
        const string pretend = "vnode1", device = "fence-kvm";
        var d = new TestDomain($"kvmocf-fk-{Guid.NewGuid().ToString()[..6]}", _cluster.SharedDirectory, _cluster.GuestDirectory, TestDomain.Kind.BusyboxNoAgent);
        var virsh = new[] { "virsh", "-c", "qemu:///system" };
        _cleanup.Add(() =>
        {
            _fence.Delete(device);
            On("n2", [.. virsh, "destroy", d.Name]);
            On("n2", [.. virsh, "undefine", d.Name]);
            On("n1", "stonith_admin", "--history", pretend, "--cleanup");
        });
        Ok("n2", [.. virsh, "define", d.ConfigPath]);
        Ok("n2", [.. virsh, "start", d.Name]);
        var uris = string.Join(' ', KvmCluster.Nodes.Select(KvmCluster.TcpUri));
        var create = _fence.Create(device, "fence_kvm", $"uri={uris}", $"pcmk_host_map={pretend}:{d.Name}");
        Assert.DoesNotContain("arning", create.StandardOutput + create.StandardError);
        _fence.Settle();

        Assert.Contains(d.Name, Ok("n1", "stonith_admin", "--list-targets", device).StandardOutput);   // fence_kvm list, both hosts
        Assert.Contains(device, Ok("n1", "stonith_admin", "--list", pretend).StandardOutput);
        Ok("n1", "stonith_admin", "--query", device);
        Assert.True(_cluster.RunsOn("n2", d));

        var off = Ok("n1", "stonith_admin", "--fence", pretend, "--timeout", "60");
        Assert.False(_cluster.RunsOn("n2", d));
        Assert.Empty(d.QemuPids());
        Assert.Contains("shut off", Ok("n2", [.. virsh, "domstate", d.Name]).StandardOutput);
        var on = Ok("n1", "stonith_admin", "--unfence", pretend, "--timeout", "60");
        Assert.True(_cluster.RunsOn("n2", d));
        Assert.NotEmpty(Fenced(pretend, "off"));
        Assert.NotEmpty(Fenced(pretend, "on"));
        _output.WriteLine($"fence_kvm through pacemaker-fenced: off {off.Elapsed.TotalSeconds:0.0} s, on {on.Elapsed.TotalSeconds:0.0} s");
    }
}
