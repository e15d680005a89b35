using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>ocf:kvmocf:VirtualDomain against a real libvirtd + QEMU (TCG) and real guests: the OCF
/// behaviour, and the faults users hit — each asserting the exact exit code and that the guest
/// never runs twice.</summary>
[Collection(LibvirtCollection.Name)]
[Trait("Stack", "libvirt")]
public sealed class VirtualDomainTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(40);
    private readonly LibvirtDaemon _libvirt;
    private readonly string _rsctmp;
    private readonly List<TestDomain> _domains = [];

    public VirtualDomainTests(LibvirtDaemon libvirt)
    {
        _libvirt = libvirt;
        Repo.RequireBuild();
        _rsctmp = Directory.CreateTempSubdirectory("kvmocf-rsctmp-").FullName;
    }

    public void Dispose()
    {
        _libvirt.Recover();
        foreach (var d in _domains) _libvirt.Virsh("destroy", d.Name);
        Directory.Delete(_rsctmp, recursive: true);
    }

    private TestDomain Domain(TestDomain.Kind kind = TestDomain.Kind.Busybox, string extraDevices = "", string? name = null)
    {
        var d = new TestDomain(name ?? $"kvmocf-{_domains.Count}-{Guid.NewGuid().ToString()[..6]}", _libvirt.WorkDirectory, _libvirt.GuestDirectory, kind,
            extraDevices: extraDevices);
        _domains.Add(d);
        return d;
    }

    private AgentRun Run(TestDomain d, string action, Dictionary<string, string>? more = null, string interval = "10000", TimeSpan? timeout = null) =>
        VirtualDomainAgent.Run(d, action, timeout ?? Timeout, _rsctmp, interval, more);

    private AgentRun Probe(TestDomain d, Dictionary<string, string>? more = null) => Run(d, "monitor", more, interval: "0");

    private void AssertRunsOnce(TestDomain d) => Assert.Single(d.QemuPids());

    [Fact]
    public void Start_start_monitor_probe_stop_stop_monitor()
    {
        var d = Domain();
        Assert.Equal(7, Probe(d).Code);
        Assert.Equal(7, Run(d, "monitor").Code);

        var start = Run(d, "start");
        Assert.True(start.Code == 0, start.ToString());
        Assert.Equal(0, Run(d, "start").Code);
        AssertRunsOnce(d);
        Assert.Equal(0, Run(d, "monitor").Code);
        Assert.Equal(0, Probe(d).Code);
        Assert.Contains(d.Name, _libvirt.Virsh("list", "--name").StandardOutput);

        Assert.True(d.WaitUntilReady(TimeSpan.FromSeconds(60)));
        var stop = Run(d, "stop");
        Assert.True(stop.Code == 0, stop.ToString());
        Assert.DoesNotContain("destroy", stop.Stderr);               // it shut down gracefully (ACPI)
        Assert.Empty(d.QemuPids());
        Assert.Equal(0, Run(d, "stop").Code);
        Assert.Equal(7, Run(d, "monitor").Code);
        Assert.DoesNotContain(d.Name, _libvirt.Virsh("list", "--all", "--name").StandardOutput);
    }

    [Fact]
    public void A_guest_that_ignores_acpi_is_destroyed_within_the_stop_budget()
    {
        var d = Domain(TestDomain.Kind.FirmwareOnly);
        Assert.Equal(0, Run(d, "start").Code);
        var stop = Run(d, "stop", timeout: TimeSpan.FromSeconds(30), more: new() { ["destroy_timeout"] = "15s" });
        Assert.True(stop.Code == 0, stop.ToString());
        Assert.Contains("forced shutdown (destroy)", stop.Stderr);
        Assert.True(stop.Elapsed < TimeSpan.FromSeconds(30), $"stop took {stop.Elapsed}");
        Assert.Empty(d.QemuPids());
    }

    [Fact]
    public void Force_stop_destroys_at_once()
    {
        var d = Domain();
        Assert.Equal(0, Run(d, "start").Code);
        var stop = Run(d, "stop", new() { ["force_stop"] = "true" });
        Assert.Equal(0, stop.Code);
        Assert.DoesNotContain("graceful", stop.Stderr);
        Assert.Empty(d.QemuPids());
    }

    [Fact]
    public void Check_level_10_pings_the_guest_agent_and_catches_a_hung_guest()
    {
        var healthy = Domain();
        var hung = Domain(TestDomain.Kind.BusyboxSilentAgent);
        Assert.Equal(0, Run(healthy, "start").Code);
        Assert.Equal(0, Run(hung, "start").Code);
        Assert.True(healthy.WaitUntilReady(TimeSpan.FromSeconds(60)) && hung.WaitUntilReady(TimeSpan.FromSeconds(60)));

        var deep = new Dictionary<string, string> { ["OCF_CHECK_LEVEL"] = "10", ["guest_agent_timeout"] = "2s", ["guest_agent_startup"] = "1s" };
        Assert.Equal(0, Run(hung, "monitor", new(deep) { ["guest_agent_startup"] = "5min" }).Code);   // still booting: not yet required
        // libvirt sees the guest open its agent port a moment after the guest says it is ready
        Assert.True(Sh.Eventually(() => Run(healthy, "monitor", deep).Code == 0, TimeSpan.FromSeconds(30)), "a healthy guest's agent did not answer");
        Assert.Equal(0, Run(hung, "monitor").Code);                    // depth 0: qemu runs, fine
        var failed = Run(hung, "monitor", deep);
        Assert.Equal(1, failed.Code);
        Assert.Contains("guest agent", failed.ExitReason);
        Assert.True(failed.Elapsed < Timeout, failed.ToString());
    }

    [Fact]
    public void With_libvirtd_stopped_nothing_is_reported_stopped_and_nothing_starts_twice()
    {
        var running = Domain();
        var stopped = Domain();
        Assert.Equal(0, Run(running, "start").Code);
        _libvirt.Stop();
        try
        {
            var monitor = Run(running, "monitor");
            Assert.Equal(1, monitor.Code);
            Assert.Contains("cannot determine the state", monitor.ExitReason);
            Assert.Equal(0, Probe(running).Code);                      // the qemu process table says it runs
            Assert.Equal(7, Probe(stopped).Code);                      // ... and that this one does not
            Assert.Equal(1, Run(running, "start").Code);               // must not start a second copy
            Assert.Equal(1, Run(running, "stop").Code);                // cannot stop it: pacemaker fences
            Assert.Equal(1, Run(stopped, "start").Code);
            AssertRunsOnce(running);
            Assert.Empty(stopped.QemuPids());
        }
        finally { _libvirt.Start(); }
        Assert.Equal(0, Run(running, "monitor").Code);                // libvirtd picked the guest up again
        Assert.Equal(0, Run(running, "stop", new() { ["force_stop"] = "true" }).Code);
    }

    [Theory]
    [InlineData("monitor")]
    [InlineData("stop")]
    [InlineData("migrate_to")]
    public void A_hung_libvirtd_gives_an_error_before_the_timeout(string action)
    {
        var d = Domain();
        Assert.Equal(0, Run(d, "start").Code);
        var timeout = TimeSpan.FromSeconds(10);
        _libvirt.Freeze();
        AgentRun run;
        try
        {
            run = Run(d, action, new() { ["OCF_RESKEY_CRM_meta_migrate_target"] = "elsewhere", ["OCF_RESKEY_CRM_meta_migrate_source"] = "here" }, timeout: timeout);
        }
        finally { _libvirt.Thaw(); }
        Assert.Equal(1, run.Code);
        Assert.True(run.Elapsed < timeout, $"{action} took {run.Elapsed.TotalSeconds:0.0}s of its {timeout.TotalSeconds}s");
        Assert.Matches("hung|in time", run.ExitReason);
        AssertRunsOnce(d);
    }

    [Fact]
    public void An_unreadable_config_never_makes_a_running_guest_look_stopped()
    {
        var d = Domain();
        Assert.Equal(0, Run(d, "start").Code);
        var moved = d.ConfigPath + ".away";
        File.Move(d.ConfigPath, moved);
        try
        {
            Assert.Equal(0, Probe(d).Code);                               // the name was cached at start
            foreach (var f in Directory.GetFiles(_rsctmp)) File.Delete(f);  // as after a reboot of the agent's state
            var blind = Probe(d);
            Assert.Equal(1, blind.Code);                                  // unknown, never 7
            Assert.Contains("cannot tell which domain", blind.ExitReason);
            Assert.Equal(0, Probe(d, new() { ["domain"] = d.Name }).Code); // the domain parameter needs no config
            var uuid = _libvirt.Virsh("domuuid", d.Name).StandardOutput.Trim();
            Assert.Equal(0, Probe(d, new() { ["domain"] = uuid }).Code);   // ... nor does its UUID
            Assert.Equal(1, Run(d, "stop").Code);                         // cannot tell what to stop: fail, not "stopped"
            AssertRunsOnce(d);
        }
        finally { File.Move(moved, d.ConfigPath); }
        Assert.Equal(0, Run(d, "stop", new() { ["force_stop"] = "true" }).Code);
    }

    [Fact]
    public void Qemu_killed_under_a_running_guest_is_reported_stopped_and_start_recovers()
    {
        var d = Domain();
        Assert.Equal(0, Run(d, "start").Code);
        Sh.Ok("kill", "-KILL", d.QemuPids().Single().ToString());
        Assert.True(Sh.Eventually(() => d.QemuPids().Count == 0, TimeSpan.FromSeconds(10)));
        // libvirt notices the death a moment later; until then it (and so the agent) still says running
        AgentRun? monitor = null;
        Assert.True(Sh.Eventually(() => (monitor = Run(d, "monitor")).Code == 7, TimeSpan.FromSeconds(15)), monitor?.ToString());
        Assert.Equal(0, Run(d, "start").Code);
        AssertRunsOnce(d);
        Assert.Equal(0, Run(d, "stop", new() { ["force_stop"] = "true" }).Code);
    }

    [Fact]
    public void A_domain_parameter_that_is_not_the_configs_domain_is_refused_at_start()
    {
        var d = Domain();
        var run = Run(d, "start", new() { ["domain"] = "some-other-guest" });
        Assert.Equal(6, run.Code);
        Assert.Empty(d.QemuPids());
    }

    [Fact]
    public void Start_fails_on_this_host_when_the_config_is_missing_here()
    {
        var d = Domain();
        var run = Run(d, "start", new() { ["config"] = "/nonexistent/kvmocf.xml" });
        Assert.Equal(5, run.Code);                                         // as the anchor and its ocft case say
        Assert.Contains("does not exist or not readable", run.ExitReason);
    }

    [Fact]
    public void Bad_input_gets_one_line_and_the_right_code()
    {
        var d = Domain();
        Assert.Equal(3, Run(d, "frobnicate").Code);
        Assert.Equal(6, Run(d, "start", new() { ["config"] = "" }).Code);
        Assert.Equal(6, Run(d, "start", new() { ["shutdown_mode"] = "acpi,reboot" }).Code);
        Assert.Equal(6, Run(d, "start", new() { ["migration_speed"] = "10M" }).Code);
        Assert.Equal(7, Run(d, "monitor", new() { ["migration_speed"] = "10M" }).Code);   // a value it does not read
        var both = Run(d, "start", new() { ["force_stop"] = "1", ["snapshot"] = "/var/lib/snapshots" });
        Assert.Equal(6, both.Code);
        Assert.Single(both.Stderr.Split('\n'), l => l.StartsWith("ocf-exit-reason:"));
        Assert.DoesNotContain("   at ", both.Stderr);
        var stop = Run(d, "stop", new() { ["force_stop"] = "1", ["snapshot"] = "/var/lib/snapshots" });
        Assert.Equal(0, stop.Code);                                        // stopped is stopped: no fencing for a typo
        Assert.Contains("start would refuse this configuration", stop.Stderr);
    }

    [Fact]
    public void Snapshot_saves_the_guest_on_stop_and_restores_it_on_start()
    {
        var d = Domain();
        var snapshots = Directory.CreateDirectory(Path.Combine(_libvirt.WorkDirectory, "snap-" + d.Name)).FullName;
        var snapshot = new Dictionary<string, string> { ["snapshot"] = snapshots };
        Assert.Equal(0, Run(d, "start", snapshot).Code);
        Assert.True(d.WaitUntilReady(TimeSpan.FromSeconds(60)));
        Thread.Sleep(2000);
        var before = d.Uptime()!.Value;

        Assert.Equal(0, Run(d, "stop", snapshot).Code);
        Assert.True(File.Exists(Path.Combine(snapshots, d.Name + ".state")));
        Assert.Empty(d.QemuPids());
        Assert.Equal(7, Run(d, "monitor", snapshot).Code);

        var start = Run(d, "start", snapshot);
        Assert.True(start.Code == 0, start.ToString());
        Assert.Contains("restoring", start.Stderr);
        Assert.False(File.Exists(Path.Combine(snapshots, d.Name + ".state")));
        Assert.True(Sh.Eventually(() => d.Uptime() > before + 1, TimeSpan.FromSeconds(20)), "the guest booted afresh instead of resuming");
        Assert.True(d.Uptime() < before + 60);
        Assert.Equal(0, Run(d, "stop", new() { ["force_stop"] = "true" }).Code);
    }

    [Fact]
    public void A_stateless_guest_runs_on_a_fresh_overlay_of_its_backing_file()
    {
        var name = $"kvmocf-cow-{Guid.NewGuid().ToString()[..6]}";
        var overlay = Path.Combine(_libvirt.WorkDirectory, name + ".qcow2");
        var backing = Path.Combine(_libvirt.WorkDirectory, name + "-base.qcow2");
        Sh.Ok("qemu-img", "create", "-f", "qcow2", backing, "16M");
        var disk = $"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{overlay}'/><target dev='vda' bus='virtio'/></disk>";
        var d = Domain(extraDevices: disk, name: name);
        var cow = new Dictionary<string, string> { ["backingfile"] = backing, ["stateless"] = "true" };

        var start = Run(d, "start", cow);
        Assert.True(start.Code == 0, start.ToString());
        Assert.Contains($"\"backing-filename\": \"{backing}\"", Sh.Ok("qemu-img", "info", "--output=json", "-U", overlay).StandardOutput);
        var first = File.GetLastWriteTimeUtc(overlay);
        Assert.Equal(0, Run(d, "monitor", cow).Code);
        Assert.Equal(0, Run(d, "stop", new(cow) { ["force_stop"] = "true" }).Code);
        Assert.Equal(7, Run(d, "monitor", cow).Code);                 // defined, shut off: stopped

        Thread.Sleep(1100);
        Assert.Equal(0, Run(d, "start", cow).Code);
        Assert.True(File.GetLastWriteTimeUtc(overlay) > first, "stateless start did not re-create the overlay");
        Assert.Equal(0, Run(d, "stop", new(cow) { ["force_stop"] = "true" }).Code);
        _libvirt.Virsh("undefine", d.Name);
    }

    [Fact]
    public void Start_resources_starts_the_pool_and_network_the_guest_uses()
    {
        var tag = Guid.NewGuid().ToString()[..6];
        var poolDir = Directory.CreateDirectory(Path.Combine(_libvirt.WorkDirectory, "pool-" + tag)).FullName;
        File.WriteAllBytes(Path.Combine(poolDir, "data.raw"), new byte[1 << 20]);
        var pool = $"kvmocf-pool-{tag}";
        var net = $"kvmocf-net-{tag}";
        File.WriteAllText(Path.Combine(poolDir, "..", pool + ".xml"), $"<pool type='dir'><name>{pool}</name><target><path>{poolDir}</path></target></pool>");
        File.WriteAllText(Path.Combine(poolDir, "..", net + ".xml"), $"<network><name>{net}</name><bridge name='kvbr{tag[..4]}'/></network>");
        Sh.Ok("virsh", "-c", LibvirtDaemon.Uri, "pool-define", Path.Combine(poolDir, "..", pool + ".xml"));
        Sh.Ok("virsh", "-c", LibvirtDaemon.Uri, "net-define", Path.Combine(poolDir, "..", net + ".xml"));
        try
        {
            var d = Domain(extraDevices:
                $"<disk type='volume' device='disk'><source pool='{pool}' volume='data.raw'/><target dev='vdb' bus='virtio'/></disk>" +
                $"<interface type='network'><source network='{net}'/><model type='virtio'/></interface>");
            Assert.Equal(1, Run(d, "start").Code);                        // without start_resources: the pool is inactive
            var start = Run(d, "start", new() { ["start_resources"] = "true" });
            Assert.True(start.Code == 0, start.ToString());
            Assert.Contains("running", _libvirt.Virsh("pool-info", pool).StandardOutput);
            Assert.Matches(@"Active:\s+yes", _libvirt.Virsh("net-info", net).StandardOutput);
            Assert.Equal(0, Run(d, "stop", new() { ["force_stop"] = "true" }).Code);
        }
        finally
        {
            _libvirt.Virsh("pool-destroy", pool); _libvirt.Virsh("pool-undefine", pool);
            _libvirt.Virsh("net-destroy", net); _libvirt.Virsh("net-undefine", net);
        }
    }

    [Fact]
    public void Save_config_on_stop_writes_the_running_definition_back()
    {
        var d = Domain();
        var original = File.ReadAllText(d.ConfigPath);
        Assert.DoesNotContain("<uuid>", original);
        Assert.Equal(0, Run(d, "start").Code);
        Assert.Equal(0, Run(d, "stop", new() { ["force_stop"] = "true", ["save_config_on_stop"] = "true" }).Code);
        var saved = File.ReadAllText(d.ConfigPath);
        Assert.Contains("<uuid>", saved);                                  // libvirt's own, complete definition
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(d.ConfigPath));   // it may carry secrets
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(d.ConfigPath)!, $".{d.Name}.xml.kvmocf-*"));
        Assert.Contains($"<name>{d.Name}</name>", saved);
        Assert.Equal(0, Run(d, "start").Code);                             // and it still starts
        Assert.Equal(0, Run(d, "stop", new() { ["force_stop"] = "true" }).Code);
    }

    [Fact]
    public void A_failing_monitor_script_fails_the_monitor_with_its_output()
    {
        var d = Domain();
        var script = Path.Combine(_libvirt.WorkDirectory, d.Name + "-check.sh");
        File.WriteAllText(script, "#!/bin/sh\necho 'http: connection refused'\nexit 3\n");
        File.SetUnixFileMode(script, (UnixFileMode)0b111_101_101);
        Assert.Equal(0, Run(d, "start").Code);
        var monitor = Run(d, "monitor", new() { ["monitor_scripts"] = script });
        Assert.Equal(1, monitor.Code);
        Assert.Contains("-check.sh returned 3: http: connection refused", monitor.ExitReason);
        Assert.Equal(0, Run(d, "stop", new() { ["force_stop"] = "true" }).Code);
    }

    [Fact]
    public void Shutdown_mode_is_honoured()
    {
        var d = Domain();
        Assert.Equal(0, Run(d, "start").Code);
        Assert.True(d.WaitUntilReady(TimeSpan.FromSeconds(60)));
        // The test guest's agent does not implement guest-shutdown: mode=agent must fail over to destroy ...
        var agent = Run(d, "stop", new() { ["shutdown_mode"] = "agent" });
        Assert.Equal(0, agent.Code);
        Assert.Contains("graceful shutdown of", agent.Stderr);
        Assert.Contains("forced shutdown (destroy)", agent.Stderr);
        // ... while mode=acpi shuts it down gracefully: the mode reaches libvirt (the anchor ignores it).
        File.WriteAllText(d.ConsolePath, "");                              // forget the first boot's READY
        Assert.Equal(0, Run(d, "start").Code);
        Assert.True(d.WaitUntilReady(TimeSpan.FromSeconds(60)));
        var acpi = Run(d, "stop", new() { ["shutdown_mode"] = "acpi" });
        Assert.Equal(0, acpi.Code);
        Assert.DoesNotContain("destroy", acpi.Stderr);
        Assert.Empty(d.QemuPids());
    }

    [Fact]
    public void Validate_all_names_a_missing_tool_at_check_level_10()
    {
        var d = Domain();
        var deep = new Dictionary<string, string> { ["OCF_CHECK_LEVEL"] = "10" };
        Assert.Equal(0, Run(d, "validate-all", deep).Code);
        Assert.Equal(0, Run(d, "validate-all", new() { ["sync_config_on_stop"] = "true" }).Code);   // depth 0: syntax only
        var csync = Run(d, "validate-all", new(deep) { ["sync_config_on_stop"] = "true" });
        Assert.Equal(5, csync.Code);
        Assert.Equal("csync2 is needed but not installed", csync.ExitReason);
        var script = Run(d, "validate-all", new(deep) { ["monitor_scripts"] = "/nonexistent/check.sh" });
        Assert.Equal(2, script.Code);
    }

    [Fact]
    public void Ocf_tester_passes_its_behavioural_checks()
    {
        var d = Domain();
        var installed = Installed.Agent("VirtualDomain");
        var run = OcfTester.Run(installed, d.Name,
            ["config=" + d.ConfigPath, "autoset_utilization_cpu=false", "autoset_utilization_hv_memory=false", "autoset_utilization_host_memory=false"],
            TimeSpan.FromMinutes(5), "env", "HA_RSCTMP=" + _rsctmp);
        OcfTester.AssertOnlyTheDtdCheckFails(run);
        Assert.Contains("Checking for migrate_to action", run.StandardOutput);
    }
}
