using KvmOcf.IntegrationTests.Harness;
using Xunit.Abstractions;

namespace KvmOcf.IntegrationTests;

/// <summary>fence_kvm run on lab node n1 against the two real libvirtds of the kvmlab (over TCP):
/// status, off and on of a guest, list across both hosts, a guest that live-migrated, a guest running
/// on both hosts at once, and hosts whose libvirtd is stopped or frozen. What the agent says is
/// checked against the qemu processes themselves.</summary>
[Collection(KvmClusterCollection.Name)]
[Trait("Stack", "kvm-cluster")]
public sealed class FenceKvmTests(KvmCluster cluster, ITestOutputHelper output) : IDisposable
{
    private const string Agent = "fence_kvm";
    private static readonly string Uris = string.Join(' ', KvmCluster.Nodes.Select(KvmCluster.TcpUri));
    private readonly List<TestDomain> _domains = [];

    public void Dispose()
    {
        foreach (var node in KvmCluster.Nodes)
        {
            cluster.ThawLibvirt(node);
            if (!cluster.On(node, "virsh", "-c", "qemu:///system", "version").Succeeded) cluster.StartLibvirt(node);
            foreach (var d in _domains)
            {
                Virsh(node, "destroy", d.Name);
                Virsh(node, "undefine", d.Name);
            }
        }
    }

    private TestDomain Domain()
    {
        var d = new TestDomain($"kvmocf-f{_domains.Count}-{Guid.NewGuid().ToString()[..6]}", cluster.SharedDirectory, cluster.GuestDirectory);
        _domains.Add(d);
        return d;
    }

    private ToolResult Virsh(string node, params string[] arguments) => cluster.On(node, ["virsh", "-c", "qemu:///system", .. arguments]);

    private void VirshOk(string node, params string[] arguments)
    {
        var r = Virsh(node, arguments);
        Assert.True(r.Succeeded, $"virsh {string.Join(' ', arguments)} on {node}: {r.StandardError}");
    }

    /// <summary>Runs fence_kvm on n1 with the options on stdin, as pacemaker-fenced would.</summary>
    private ToolResult Fence(string action, string? plug, params (string, string)[] more)
    {
        var options = new List<(string, string)> { ("action", action), ("uri", Uris), ("stonith_status_sleep", "0.2") };
        if (plug is not null) options.Add(("plug", plug));
        var r = FenceAgentRun.Stdin(Agent, [.. options, .. more], cluster.Prefix("n1"), TimeSpan.FromSeconds(90));
        output.WriteLine($"{action} {plug}: exit {r.ExitCode} in {r.Elapsed.TotalSeconds:0.0}s: {r.StandardOutput.Trim()} {r.StandardError.Trim()}");
        return r;
    }

    private static void AssertOutcome(ToolResult r, int code, string line)
    {
        Assert.True(r.ExitCode == code, $"exit {r.ExitCode}, expected {code}\n{r.StandardOutput}\n{r.StandardError}");
        Assert.Equal(line, r.StandardOutput.Trim());
    }

    [Fact]
    public void Status_on_and_off_of_a_persistent_guest_with_pacemakers_stdin_from_a_file()
    {
        var d = Domain();
        VirshOk("n2", "define", d.ConfigPath);
        AssertOutcome(Fence("status", d.Name), 2, "Status: OFF");

        // exactly what pacemaker-fenced writes: the old name port, its nodename, and a file as stdin
        var file = Path.Combine(cluster.SharedDirectory, d.Name + ".stdin");
        File.WriteAllText(file, $"action=on\nport={d.Name}\nnodename={d.Name}\nuri={Uris}\n");
        var on = Sh.Run(Cli.Wrap("nsenter").WithArguments([.. cluster.Prefix("n1")[1..], "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                "PCMK_service=pacemaker-fenced", FenceAgentRun.Staged(Agent)])
            .WithStandardInputPipe(PipeSource.FromFile(file)));
        AssertOutcome(on, 0, "Success: Powered ON");
        Assert.True(cluster.RunsOn("n2", d));
        Assert.Single(d.QemuPids());
        AssertOutcome(Fence("status", d.Name), 0, "Status: ON");
        AssertOutcome(Fence("on", d.Name), 0, "Success: Already ON");

        AssertOutcome(Fence("off", d.Name), 0, "Success: Powered OFF");
        Assert.False(cluster.RunsOn("n2", d));
        Assert.Empty(d.QemuPids());
        AssertOutcome(Fence("status", d.Name), 2, "Status: OFF");
        AssertOutcome(Fence("off", d.Name), 0, "Success: Already OFF");

        // reboot: off, then on where it is defined
        AssertOutcome(Fence("reboot", d.Name), 0, "Success: Rebooted");
        Assert.True(cluster.RunsOn("n2", d));
        AssertOutcome(Fence("off", d.Name), 0, "Success: Powered OFF");
    }

    [Fact]
    public void A_name_no_host_knows_is_not_off_unless_missing_as_off()
    {
        var status = Fence("status", "kvmocf-no-such-guest");
        FenceAgentRun.AssertCleanFailure(status, "the device does not know 'kvmocf-no-such-guest'");
        AssertOutcome(Fence("status", "kvmocf-no-such-guest", ("missing_as_off", "1")), 2, "Status: OFF");
    }

    [Fact]
    public void List_and_list_status_cover_every_host()
    {
        var running = Domain();
        var defined = Domain();
        VirshOk("n1", "create", running.ConfigPath);
        VirshOk("n2", "define", defined.ConfigPath);
        string Uuid(string node, TestDomain d) => Virsh(node, "domuuid", d.Name).StandardOutput.Trim();

        var list = Fence("list", null);
        Assert.Equal(0, list.ExitCode);
        Assert.Contains($"{running.Name},{Uuid("n1", running)}", list.StandardOutput.Split('\n'));
        Assert.Contains($"{defined.Name},{Uuid("n2", defined)}", list.StandardOutput.Split('\n'));

        var status = Fence("list-status", null, ("separator", ";"));
        Assert.Equal(0, status.ExitCode);
        Assert.Contains($"{running.Name};{Uuid("n1", running)};ON", status.StandardOutput.Split('\n'));
        Assert.Contains($"{defined.Name};{Uuid("n2", defined)};OFF", status.StandardOutput.Split('\n'));
        Assert.Equal(0, Fence("monitor", null).ExitCode);
    }

    [Fact]
    public void A_guest_that_live_migrated_is_found_and_fenced_on_its_new_host()
    {
        var d = Domain();
        VirshOk("n1", "create", d.ConfigPath);                         // transient, as ocf:*:VirtualDomain starts guests
        VirshOk("n1", "migrate", "--live", d.Name, KvmCluster.TcpUri("n2"), "--migrateuri", "tcp://10.78.0.2");
        Assert.False(cluster.RunsOn("n1", d));
        Assert.True(cluster.RunsOn("n2", d));
        AssertOutcome(Fence("status", d.Name), 0, "Status: ON");

        AssertOutcome(Fence("off", d.Name), 0, "Success: Powered OFF");
        Assert.False(cluster.RunsOn("n2", d));
        Assert.Empty(d.QemuPids());
        // a transient guest is gone once destroyed: the next run cannot tell it from a wrong name
        FenceAgentRun.AssertCleanFailure(Fence("status", d.Name), "does not know");
        AssertOutcome(Fence("status", d.Name, ("missing_as_off", "1")), 2, "Status: OFF");
    }

    [Fact]
    public void A_guest_running_on_both_hosts_at_once_is_destroyed_on_both()
    {
        var d = Domain();
        VirshOk("n1", "define", d.ConfigPath);
        VirshOk("n1", "start", d.Name);
        VirshOk("n2", "create", d.ConfigPath);                         // a transient copy: split brain after a botched migration
        Assert.Equal(2, d.QemuPids().Count);
        AssertOutcome(Fence("status", d.Name), 0, "Status: ON");

        var off = Fence("off", d.Name);
        AssertOutcome(off, 0, "Success: Powered OFF");
        Assert.Contains($"destroying {d.Name} on {KvmCluster.TcpUri("n1")}", off.StandardError);
        Assert.Contains($"destroying {d.Name} on {KvmCluster.TcpUri("n2")}", off.StandardError);
        Assert.Empty(d.QemuPids());
        AssertOutcome(Fence("status", d.Name), 2, "Status: OFF");      // still defined on n1
    }

    [Fact]
    public void A_host_whose_libvirtd_is_frozen_makes_the_status_unknown_within_host_timeout()
    {
        var d = Domain();
        VirshOk("n1", "define", d.ConfigPath);                         // n1 says: defined, not running
        cluster.FreezeLibvirt("n2");
        try
        {
            var status = Fence("status", d.Name, ("host_timeout", "2"));
            FenceAgentRun.AssertCleanFailure(status, $"{d.Name} runs on no hypervisor that answered, and {KvmCluster.TcpUri("n2")} did not answer");
            Assert.True(status.Elapsed < TimeSpan.FromSeconds(8), $"took {status.Elapsed.TotalSeconds:0.0}s");
            AssertOutcome(Fence("status", d.Name, ("host_timeout", "2"), ("missing_as_off", "1")), 2, "Status: OFF");
        }
        finally { cluster.ThawLibvirt("n2"); }
        AssertOutcome(Fence("status", d.Name), 2, "Status: OFF");
    }

    [Fact]
    public void A_host_whose_libvirtd_is_down_makes_status_unknown_and_an_off_unconfirmed_unless_missing_as_off()
    {
        var d = Domain();
        VirshOk("n1", "define", d.ConfigPath);
        VirshOk("n1", "start", d.Name);
        cluster.StopLibvirt("n2");
        try
        {
            // on where it runs, whatever n2 says
            AssertOutcome(Fence("status", d.Name), 0, "Status: ON");
            // destroyed on n1, but n2 cannot confirm it does not run there too
            var off = Fence("off", d.Name, ("power_timeout", "3"));
            FenceAgentRun.AssertCleanFailure(off, $"could not confirm the power off: {d.Name} runs on no hypervisor that answered, and {KvmCluster.TcpUri("n2")} did not answer");
            Assert.False(cluster.RunsOn("n1", d));
            Assert.Empty(d.QemuPids());
            FenceAgentRun.AssertCleanFailure(Fence("status", d.Name), "did not answer");

            // the admin's choice: a host that does not answer runs nothing
            VirshOk("n1", "start", d.Name);
            AssertOutcome(Fence("off", d.Name, ("missing_as_off", "1")), 0, "Success: Powered OFF");
            Assert.Empty(d.QemuPids());
            AssertOutcome(Fence("status", d.Name, ("missing_as_off", "1")), 2, "Status: OFF");
        }
        finally { cluster.StartLibvirt("n2"); }
        AssertOutcome(Fence("status", d.Name), 2, "Status: OFF");
    }
}
