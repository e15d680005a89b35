using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>Live migration between two real libvirtds, driven by the agent's own migrate_to /
/// migrate_from and then through pacemaker (pcs resource move), and failover when the node
/// running the guest is killed and fenced. The guest must keep running (its uptime keeps counting)
/// and never run on both hosts after the switch-over.</summary>
[Collection(KvmClusterCollection.Name)]
[Trait("Stack", "kvm-cluster")]
public sealed class VirtualDomainClusterTests(KvmCluster cluster) : IDisposable
{
    private readonly List<TestDomain> _domains = [];
    private readonly List<string> _resources = [];

    public void Dispose()
    {
        foreach (var r in _resources) cluster.On("n1", "pcs", "resource", "delete", r, "--force");
        foreach (var d in _domains)
            foreach (var node in KvmCluster.Nodes) cluster.On(node, "virsh", "-c", "qemu:///system", "destroy", d.Name);
    }

    private TestDomain Domain()
    {
        var d = new TestDomain($"kvmocf-m{_domains.Count}-{Guid.NewGuid().ToString()[..6]}", cluster.SharedDirectory, cluster.GuestDirectory);
        _domains.Add(d);
        return d;
    }

    private AgentRun Run(string node, TestDomain d, string action, string source = "n1", string target = "n2",
        Dictionary<string, string>? more = null, TimeSpan? timeout = null)
    {
        var parameters = new Dictionary<string, string>
        {
            ["migration_transport"] = "tcp",
            ["OCF_RESKEY_CRM_meta_migrate_source"] = source,
            ["OCF_RESKEY_CRM_meta_migrate_target"] = target,
        };
        foreach (var (k, v) in more ?? []) parameters[k] = v;
        return VirtualDomainAgent.Run(d, action, timeout ?? TimeSpan.FromSeconds(60), interval: "10000", more: parameters,
            prefix: cluster.Prefix(node), binary: Installed.Agent("VirtualDomain"));
    }

    [Fact]
    public void The_agent_migrates_a_live_guest_between_two_libvirtds()
    {
        var d = Domain();
        Assert.Equal(0, Run("n1", d, "start").Code);
        Assert.True(d.WaitUntilReady(TimeSpan.FromSeconds(60)));
        Thread.Sleep(2000);
        var before = d.Uptime()!.Value;

        var to = Run("n1", d, "migrate_to");
        Assert.True(to.Code == 0, to.ToString());
        var from = Run("n2", d, "migrate_from");
        Assert.True(from.Code == 0, from.ToString());
        Assert.Equal(0, Run("n1", d, "stop").Code);             // the source's stop after a migration: nothing to do

        Assert.Equal(7, Run("n1", d, "monitor").Code);
        Assert.Equal(0, Run("n2", d, "monitor").Code);
        Assert.False(cluster.RunsOn("n1", d));
        Assert.True(cluster.RunsOn("n2", d));
        Assert.Single(d.QemuPids());
        Assert.True(Sh.Eventually(() => d.Uptime() > before + 2, TimeSpan.FromSeconds(20)), "the guest's uptime did not keep counting");
        Assert.Equal(0, Run("n2", d, "stop", more: new() { ["force_stop"] = "true" }).Code);
    }

    [Fact]
    public void A_migration_that_cannot_finish_in_time_is_aborted_and_the_guest_stays()
    {
        var d = Domain();
        Assert.Equal(0, Run("n1", d, "start").Code);
        Assert.True(d.WaitUntilReady(TimeSpan.FromSeconds(60)));
        var timeout = TimeSpan.FromSeconds(25);
        var to = Run("n1", d, "migrate_to", more: new() { ["migration_speed"] = "1" }, timeout: timeout);  // 96 MiB at 1 MiB/s
        Assert.Equal(1, to.Code);
        Assert.Contains("aborted", to.ExitReason);
        Assert.True(to.Elapsed < timeout, to.ToString());
        Assert.Contains("MiB remaining", to.Stderr);              // progress was logged
        Assert.True(cluster.RunsOn("n1", d));
        Assert.False(cluster.RunsOn("n2", d));
        Assert.Single(d.QemuPids());
        Assert.Equal(0, Run("n1", d, "monitor").Code);
        Assert.Equal(0, Run("n1", d, "stop", more: new() { ["force_stop"] = "true" }).Code);
    }

    [Fact]
    public void A_target_that_cannot_see_the_config_is_refused_before_moving_anything()
    {
        var d = Domain();
        // A config only n1 can see: n1's private /etc/libvirt.
        var privatePath = $"/etc/libvirt/kvmocf-{d.Name}.xml";
        Assert.True(cluster.On("n1", "cp", d.ConfigPath, privatePath).Succeeded);
        var onlyHere = new Dictionary<string, string> { ["config"] = privatePath };
        Assert.Equal(0, Run("n1", d, "start", more: onlyHere).Code);
        var to = Run("n1", d, "migrate_to", more: onlyHere);
        Assert.Equal(1, to.Code);
        Assert.Contains("is not visible there", to.ExitReason);
        Assert.True(cluster.RunsOn("n1", d));
        Assert.False(cluster.RunsOn("n2", d));
        Assert.Equal(0, Run("n1", d, "stop", more: new(onlyHere) { ["force_stop"] = "true" }).Code);
    }

    /// <summary>libvirt refuses a second pool on a path, so the target check must use the pools the
    /// target already has on the config's directory (active: refreshed; inactive: started for the
    /// check and stopped again), and it sweeps away check pools an earlier, interrupted check left.</summary>
    [Theory]
    [InlineData("active")]
    [InlineData("inactive")]
    public void A_target_with_a_storage_pool_on_the_config_directory_takes_the_guest_live(string poolState)
    {
        var d = Domain();
        var pool = $"kvmocf-shared-{Guid.NewGuid().ToString()[..4]}";
        var stale = "kvmocf-check-1000000000-1";
        var elsewhere = Directory.CreateTempSubdirectory("kvmocf-stale-").FullName;
        var virsh = new[] { "virsh", "-c", "qemu:///system" };
        Assert.True(cluster.On("n2", [.. virsh, "pool-define-as", pool, "dir", "--target", cluster.SharedDirectory]).Succeeded);
        if (poolState == "active") Assert.True(cluster.On("n2", [.. virsh, "pool-start", pool]).Succeeded);
        Assert.True(cluster.On("n2", [.. virsh, "pool-create-as", stale, "dir", "--target", elsewhere]).Succeeded);
        try
        {
            Assert.Equal(0, Run("n1", d, "start").Code);
            Assert.True(d.WaitUntilReady(TimeSpan.FromSeconds(60)));
            var before = d.Uptime()!.Value;
            var to = Run("n1", d, "migrate_to");
            Assert.True(to.Code == 0, to.ToString());
            Assert.Equal(0, Run("n2", d, "migrate_from").Code);
            Assert.True(cluster.RunsOn("n2", d) && !cluster.RunsOn("n1", d));
            Assert.True(Sh.Eventually(() => d.Uptime() > before + 2, TimeSpan.FromSeconds(20)), "the guest's uptime did not keep counting");
            var pools = cluster.On("n2", [.. virsh, "pool-list", "--all", "--name"]).StandardOutput;
            Assert.DoesNotContain(stale, pools);                                       // the leftover was swept away
            Assert.DoesNotContain("kvmocf-check-", pools);                             // and the check left none of its own
            var info = cluster.On("n2", [.. virsh, "pool-info", pool]).StandardOutput;
            Assert.Matches(poolState == "active" ? @"State:\s+running" : @"State:\s+inactive", info);   // left as it was found
            Assert.Equal(0, Run("n2", d, "stop", more: new() { ["force_stop"] = "true" }).Code);
        }
        finally
        {
            cluster.On("n2", [.. virsh, "pool-destroy", pool]);
            cluster.On("n2", [.. virsh, "pool-undefine", pool]);
            cluster.On("n2", [.. virsh, "pool-destroy", stale]);
            Directory.Delete(elsewhere);
        }
    }

    [Fact]
    public void An_unreachable_target_is_refused_quickly()
    {
        var d = Domain();
        Assert.Equal(0, Run("n1", d, "start").Code);
        var to = Run("n1", d, "migrate_to", target: "n3-does-not-exist");
        Assert.Equal(1, to.Code);
        Assert.Contains("is not reachable", to.ExitReason);
        Assert.True(cluster.RunsOn("n1", d));
        Assert.Equal(0, Run("n1", d, "stop", more: new() { ["force_stop"] = "true" }).Code);
    }

    [Fact]
    public void Pacemaker_moves_the_guest_live_and_fails_it_over_when_its_node_dies()
    {
        var d = Domain();
        var id = d.Name;
        _resources.Add(id);
        var create = cluster.On("n1", "pcs", "resource", "create", id, "ocf:kvmocf:VirtualDomain", $"config={d.ConfigPath}",
            "migration_transport=tcp", "op", "monitor", "interval=5s", "meta", "allow-migrate=true");
        Assert.True(create.Succeeded, create.StandardError);
        Assert.DoesNotContain("Warning", create.StandardError);
        string? first = null;
        Assert.True(Sh.Eventually(() => (first = cluster.LocationOf(id)) is not null, TimeSpan.FromSeconds(90)), "the guest did not start");
        Assert.True(cluster.RunsOn(first!, d));
        Assert.True(d.WaitUntilReady(TimeSpan.FromSeconds(60)));

        // utilization from the guest (1 vCPU, 96 MiB), written once and not again on every monitor
        Assert.True(Sh.Eventually(() => cluster.Utilization(id, "cpu") == "1" && cluster.Utilization(id, "hv_memory") == "96" && cluster.Utilization(id, "host_memory") == "96",
            TimeSpan.FromSeconds(30)), "utilization was not set");
        var epoch = cluster.Epoch();
        Thread.Sleep(TimeSpan.FromSeconds(11));                                 // two more monitors
        Assert.Equal(epoch, cluster.Epoch());

        // live migration through pacemaker
        var other = first == "n1" ? "n2" : "n1";
        var before = d.Uptime()!.Value;
        Assert.True(cluster.On("n1", "pcs", "resource", "move", id, other).Succeeded);
        bool sawBoth = false;
        Assert.True(Sh.Eventually(() =>
        {
            bool here = cluster.RunsOn(first!, d), there = cluster.RunsOn(other, d);
            if (here && there && cluster.LocationOf(id) == other) sawBoth = true;   // after the switch-over
            return cluster.LocationOf(id) == other && there && !here;
        }, TimeSpan.FromSeconds(120)), "the guest did not move");
        Assert.False(sawBoth, "the guest ran on both hosts after the switch-over");
        Assert.True(Sh.Eventually(() => d.Uptime() > before + 2, TimeSpan.FromSeconds(20)), "the guest restarted instead of migrating");
        Assert.Single(d.QemuPids());
        cluster.On("n1", "pcs", "resource", "clear", id);

        // failover: power off the node running the guest; pacemaker fences it and starts the guest on the other
        var victim = other;
        var survivor = first!;
        cluster.KillNode(victim);
        Assert.True(Sh.Eventually(() => cluster.LocationOf(id, survivor) == survivor && cluster.RunsOn(survivor, d), TimeSpan.FromSeconds(120)),
            "the guest did not fail over");
        Assert.Contains($"plug={victim}", File.ReadAllText(Path.Combine(cluster.FenceLog, "calls.log")));
        Assert.Single(d.QemuPids());
        cluster.WaitOnline(survivor, victim);
    }
}
