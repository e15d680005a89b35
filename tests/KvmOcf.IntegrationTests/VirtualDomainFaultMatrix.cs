using KvmOcf.IntegrationTests.Harness;
using Xunit.Abstractions;

namespace KvmOcf.IntegrationTests;

/// <summary>VirtualDomain's standing fault matrix: a running guest under every fault admins hit —
/// libvirtd stopped or frozen, its config missing, half-written, replaced, in odd spellings or on
/// hung GlusterFS storage, its storage failing under it — and what each action answers. The rule
/// every row checks: never "not running" (7, or 2/5 on a probe) while the guest runs, never past
/// the deadline, never two copies.</summary>
[Collection(GuestStorageCollection.Name)]
[Trait("Stack", "gluster")]
public sealed class VirtualDomainFaultMatrix : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly LibvirtDaemon _libvirt;
    private readonly GlusterThreeNodes _gluster;
    private readonly FaultMatrix _matrix;
    private readonly string _rsctmp = Directory.CreateTempSubdirectory("kvmocf-vdfm-").FullName;
    private readonly GlusterMountUnderTest _store = new();
    private readonly List<TestDomain> _domains = [];

    public VirtualDomainFaultMatrix(LibvirtDaemon libvirt, GlusterThreeNodes gluster, ITestOutputHelper output)
    {
        (_libvirt, _gluster) = (libvirt, gluster);
        _matrix = new FaultMatrix("VirtualDomain", output);
        Repo.RequireBuild();
    }

    public void Dispose()
    {
        _libvirt.Recover();
        _gluster.ResumeAll();
        foreach (var d in _domains) { _libvirt.Virsh("destroy", d.Name); _libvirt.Virsh("undefine", d.Name); }
        _gluster.Gluster("volume", "set", _gluster.Volume, "network.ping-timeout", "5");
        Mount("stop");
        _store.Dispose();
        _gluster.Heal();
        Directory.Delete(_rsctmp, recursive: true);
    }

    private TestDomain Domain(string directory, TestDomain.Kind kind = TestDomain.Kind.Busybox, string extraDevices = "", string kernelArguments = "")
    {
        var d = new TestDomain($"kvmocf-fm{_domains.Count}-{Guid.NewGuid().ToString()[..4]}", directory, _libvirt.GuestDirectory, kind,
            extraDevices: extraDevices, kernelArguments: kernelArguments);
        _domains.Add(d);
        return d;
    }

    private AgentRun Run(TestDomain d, string action, Dictionary<string, string>? more = null, string interval = "10000", TimeSpan? timeout = null)
    {
        var parameters = new Dictionary<string, string>
        {
            ["OCF_RESKEY_CRM_meta_migrate_target"] = "elsewhere", ["OCF_RESKEY_CRM_meta_migrate_source"] = "here",
        };
        foreach (var (k, v) in more ?? []) parameters[k] = v;
        return VirtualDomainAgent.Run(d, action, timeout ?? Timeout, _rsctmp, interval, parameters);
    }

    /// <summary>The guests' storage: the volume mounted by ocf:kvmocf:GlusterMount (a probe for "monitor").</summary>
    private AgentRun Mount(string action) =>
        _store.Run(_gluster, action, new() { ["OCF_RESOURCE_INSTANCE"] = "vdfm-store" }, interval: "0", timeout: TimeSpan.FromSeconds(30));

    private void Forget() { foreach (var f in Directory.GetFiles(_rsctmp, "VirtualDomain-*")) File.Delete(f); }

    private void RunsOnce(string fault, TestDomain d) => _matrix.Fact(fault, "the guest runs exactly once", d.QemuPids().Count == 1);

    /// <summary>Runs one part of the matrix; a harness failure becomes a failed row, not a lost table.</summary>
    private void Section(string fault, Action body)
    {
        try { body(); }
        catch (Exception e) { _matrix.Fact(fault, $"harness: {e.GetType().Name}: {e.Message.Split('\n')[0]}", false); }
    }

    [Fact]
    public void Faults_never_make_a_running_guest_look_stopped()
    {
        var guest = Domain(_libvirt.WorkDirectory);
        var never = Domain(_libvirt.WorkDirectory);
        Assert.Equal(0, Run(guest, "start").Code);

        Section("libvirtd stopped", () =>
        {
            const string f = "libvirtd stopped";
            var uuid = _libvirt.Virsh("domuuid", guest.Name).StandardOutput.Trim().Replace("-", "").ToUpperInvariant();
            _libvirt.Stop();
            try
            {
                _matrix.Row(f, "probe", Run(guest, "monitor", interval: "0"), Timeout, 0);
                _matrix.Row(f, "monitor", Run(guest, "monitor"), Timeout, 1);
                _matrix.Row(f, "stop", Run(guest, "stop"), Timeout, 1);
                _matrix.Row(f, "probe (never started)", Run(never, "monitor", interval: "0"), Timeout, 7);
                _matrix.Row(f, "start (never started)", Run(never, "start"), Timeout, 1);
                _matrix.Row(f, "probe, domain=UUID without dashes", Run(guest, "monitor", new() { ["domain"] = uuid, ["config"] = "/nonexistent.xml" }, interval: "0"), Timeout, 0);
                _matrix.Row(f, "probe, hypervisor=lxc:///", Run(guest, "monitor", new() { ["hypervisor"] = "lxc:///" }, interval: "0"), Timeout, 1);
                RunsOnce(f, guest);
                _matrix.Fact(f, "the never-started guest did not start", never.QemuPids().Count == 0);
            }
            finally { _libvirt.Start(); }
        });

        Section("libvirtd frozen (SIGSTOP)", () =>
        {
            const string f = "libvirtd frozen (SIGSTOP)";
            var t = TimeSpan.FromSeconds(10);
            _libvirt.Freeze();
            try
            {
                _matrix.Row(f, "probe", Run(guest, "monitor", interval: "0", timeout: t), t, 0);
                _matrix.Row(f, "monitor", Run(guest, "monitor", timeout: t), t, 1);
                _matrix.Row(f, "stop", Run(guest, "stop", timeout: t), t, 1);
                _matrix.Row(f, "migrate_to", Run(guest, "migrate_to", timeout: t), t, 1);
            }
            finally { _libvirt.Thaw(); }
            RunsOnce(f, guest);
        });

        var config = File.ReadAllText(guest.ConfigPath);
        Section("config missing, identity cached", () =>
        {
            const string f = "config missing, identity cached";
            File.Delete(guest.ConfigPath);
            try
            {
                _matrix.Row(f, "probe", Run(guest, "monitor", interval: "0"), Timeout, 0);
                _matrix.Row(f, "monitor", Run(guest, "monitor"), Timeout, 0);
                _matrix.Row(f, "start", Run(guest, "start"), Timeout, 5);
            }
            finally { File.WriteAllText(guest.ConfigPath, config); }
        });

        Section("config missing, nothing cached", () =>
        {
            const string f = "config missing, nothing cached";
            File.Delete(guest.ConfigPath);
            Forget();
            try
            {
                _matrix.Row(f, "probe", Run(guest, "monitor", interval: "0"), Timeout, 1);
                _matrix.Row(f, "monitor", Run(guest, "monitor"), Timeout, 1);
                _matrix.Row(f, "stop", Run(guest, "stop"), Timeout, 1);
                _matrix.Row(f, "migrate_to", Run(guest, "migrate_to"), Timeout, 1);
                _matrix.Row(f, "probe, domain set", Run(guest, "monitor", new() { ["domain"] = guest.Name }, interval: "0"), Timeout, 0);
            }
            finally { File.WriteAllText(guest.ConfigPath, config); }
            RunsOnce(f, guest);
        });

        Section("config half-written, nothing cached", () =>
        {
            const string f = "config half-written, nothing cached";
            File.WriteAllText(guest.ConfigPath, config[..(config.Length / 2)]);
            Forget();
            try
            {
                _matrix.Row(f, "probe", Run(guest, "monitor", interval: "0"), Timeout, 1);
                _matrix.Row(f, "monitor", Run(guest, "monitor"), Timeout, 1);
                _matrix.Row(f, "stop", Run(guest, "stop"), Timeout, 1);
                _matrix.Row(f, "start", Run(guest, "start"), Timeout, 2);
            }
            finally { File.WriteAllText(guest.ConfigPath, config); }
            RunsOnce(f, guest);
        });

        foreach (var unit in new[] { "mib", "m", "K", "PiB", "bytes" })
            Section($"memory unit='{unit}', nothing cached", () =>
            {
                File.WriteAllText(guest.ConfigPath, config.Replace("unit='MiB'", $"unit='{unit}'"));
                Forget();
                try { _matrix.Row($"memory unit='{unit}', nothing cached", "probe", Run(guest, "monitor", interval: "0"), Timeout, 0); }
                finally { File.WriteAllText(guest.ConfigPath, config); }
            });

        Section("config replaced by another (running) guest's", () =>
        {
            const string f = "config replaced by another (running) guest's";
            var old = Domain(_libvirt.WorkDirectory);
            Assert.Equal(0, Run(old, "start").Code);                           // caches old's identity for this config path
            Assert.Equal(0, Run(old, "stop", new() { ["force_stop"] = "true" }).Code);
            var oldConfig = File.ReadAllText(old.ConfigPath);
            File.WriteAllText(old.ConfigPath, config);                         // the path now names the running guest
            try { _matrix.Row(f, "probe", Run(old, "monitor", interval: "0"), Timeout, 0); }
            finally { File.WriteAllText(old.ConfigPath, oldConfig); }
        });

        Assert.Equal(0, Run(guest, "stop", new() { ["force_stop"] = "true" }).Code);
        Section("config on hung GlusterFS (ping-timeout 42 s)", HungConfigStore);
        Section("storage lost under the guest (all bricks killed)", StorageLost);
        _matrix.Verify();
    }

    /// <summary>The config (and save_config_on_stop's write-back) on a GlusterFS volume whose bricks
    /// all hang, with gluster's default 42 s ping-timeout: every access would wait 42 s; the agent
    /// must answer before its timeout and stop must still reach destroy.</summary>
    private void HungConfigStore()
    {
        const string f = "config on hung GlusterFS (ping-timeout 42 s)";
        Assert.Equal(0, Mount("start").Code);
        _gluster.Gluster("volume", "set", _gluster.Volume, "network.ping-timeout", "42");
        // ignores ACPI, so stop must destroy it; its console stays local (a qemu writing to hung storage hangs itself)
        var d = Domain(_libvirt.WorkDirectory, TestDomain.Kind.FirmwareOnly);
        var onVolume = Path.Combine(_store.MountPoint, d.Name + ".xml");
        File.Copy(d.ConfigPath, onVolume);
        var there = new Dictionary<string, string> { ["config"] = onVolume };
        Assert.Equal(0, Run(d, "start", there).Code);
        var t = TimeSpan.FromSeconds(30);
        _gluster.SuspendAll();
        try
        {
            _matrix.Row(f, "probe", Run(d, "monitor", there, interval: "0", timeout: t), t, 0);
            _matrix.Row(f, "monitor", Run(d, "monitor", there, timeout: t), t, 0);
            var stop = _matrix.Row(f, "stop (save_config_on_stop)", Run(d, "stop",
                new(there) { ["save_config_on_stop"] = "true", ["destroy_timeout"] = "10s" }, timeout: t), t, 0);
            _matrix.Fact(f, "stop destroyed the guest", stop.Stderr.Contains("forced shutdown (destroy)") && d.QemuPids().Count == 0);
        }
        finally { _gluster.ResumeAll(); }
        _gluster.Gluster("volume", "set", _gluster.Volume, "network.ping-timeout", "5");
        _matrix.Fact(f, "the config on the volume is whole afterwards",
            Sh.Eventually(() => File.ReadAllText(onVolume).TrimEnd().EndsWith("</domain>"), TimeSpan.FromSeconds(60)));
    }

    /// <summary>QEMU pauses a guest whose disk fails (error_policy='stop'): degraded first, then a failure after ioerror_grace.</summary>
    private void StorageLost()
    {
        const string f = "storage lost under the guest (all bricks killed)";
        if (Mount("monitor").Code != 0) Assert.Equal(0, Mount("start").Code);
        var image = Path.Combine(_store.MountPoint, $"fm-{Guid.NewGuid().ToString()[..4]}.img");
        Sh.Ok("truncate", "-s", "16M", image);
        var writer = Domain(_libvirt.WorkDirectory, TestDomain.Kind.BusyboxNoAgent, kernelArguments: "disk=write",
            extraDevices: TestDomain.RawDisk(image, errorPolicy: "stop"));
        Assert.Equal(0, Run(writer, "start").Code);
        Assert.True(writer.WaitUntilReady(TimeSpan.FromSeconds(90)));
        _gluster.KillAllBricks();
        bool paused = Sh.Eventually(() => _libvirt.Virsh("domstate", "--reason", writer.Name).StandardOutput.Contains("I/O error"), TimeSpan.FromSeconds(60));
        _matrix.Fact(f, "QEMU paused the guest on the I/O error", paused);
        _matrix.Row(f, "monitor (ioerror_grace 60s)", Run(writer, "monitor"), Timeout, 190);
        _matrix.Row(f, "probe", Run(writer, "monitor", interval: "0"), Timeout, 0);
        _matrix.Row(f, "monitor (ioerror_grace 0)", Run(writer, "monitor", new() { ["ioerror_grace"] = "0" }), Timeout, 1);
        var paused2 = Domain(_libvirt.WorkDirectory, TestDomain.Kind.BusyboxNoAgent);
        Assert.Equal(0, Run(paused2, "start").Code);
        _libvirt.Virsh("suspend", paused2.Name);
        _matrix.Row("guest paused by an admin", "monitor (ioerror_grace 0)", Run(paused2, "monitor", new() { ["ioerror_grace"] = "0" }), Timeout, 0);
        _matrix.Row(f, "stop", Run(writer, "stop"), TimeSpan.FromSeconds(20), 0);
        _matrix.Fact(f, "stop left no qemu", writer.QemuPids().Count == 0);
        Run(paused2, "stop");
    }
}
