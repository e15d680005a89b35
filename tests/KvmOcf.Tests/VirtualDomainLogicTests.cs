using System.Text;
using KvmOcf.Libvirt;
using KvmOcf.Ocf;
using KvmOcf.VirtualDomain;

namespace KvmOcf.Tests;

/// <summary>VirtualDomain's pure decisions: URIs, option mapping, config parsing, process matching,
/// the RPC wire format (against bytes recorded from libvirtd 9.0).</summary>
public class VirtualDomainLogicTests
{
    [Theory]
    [InlineData("qemu:///system", "node2", null, "", "", "", "qemu://node2/system")]
    [InlineData("qemu:///system", "node2.example.com", null, "ssh", "-mig", "admin", "qemu+ssh://admin@node2-mig.example.com/system")]
    [InlineData("qemu+tls://node1:16514/system?no_verify=1", "node2", null, "", "", "", "qemu+tls://node2:16514/system?no_verify=1")]
    [InlineData("qemu+ssh://root@node1/system", "node2", null, "tcp", "", "", "qemu+tcp://node2/system")]
    [InlineData("qemu:///system", "node2", "qemu+unix:///system?socket=/lab/%n/sock", "ssh", "-x", "u", "qemu+unix:///system?socket=/lab/node2/sock")]
    public void Remote_uri_is_derived_as_the_anchor_derives_it(string local, string target, string? template, string transport, string suffix, string user, string expected)
    {
        Assert.Equal(expected, MigrationUris.Remote(local, target, template, transport, suffix, user));
    }

    [Theory]
    [InlineData("tcp://%n:49999", null, "", 0, "tcp://node2.example.com:49999")]   // %n is the node, never user@node
    [InlineData(null, "tcp://%n-mig", "", 0, "tcp://node2.example.com-mig")]
    [InlineData(null, null, "-mig", 49153, "tcp://node2-mig.example.com:49153")]
    [InlineData(null, null, "-mig", 0, "tcp://node2-mig.example.com")]
    [InlineData(null, null, "", 0, null)]
    public void Data_uri_follows_migrateuri_then_options_then_suffix(string? migrateuri, string? fromOptions, string suffix, long port, string? expected)
    {
        Assert.Equal(expected, MigrationUris.Data(migrateuri, fromOptions, "qemu:///system", "node2.example.com", suffix, port));
    }

    [Fact]
    public void Migrate_options_map_to_flags_and_typed_parameters()
    {
        var o = MigrationOptions.Parse("--p2p --tunnelled --persistent --migrateuri=tcp://%n:1 --comp-methods xbzrle,zstd --bandwidth 100 --verbose");
        Assert.Null(o.Problem);
        Assert.Equal(MigrationOptions.PeerToPeer | MigrationOptions.Tunnelled | MigrationOptions.PersistDest, o.Flags);
        Assert.Equal("tcp://%n:1", o.MigrateUri);
        Assert.Equal([("compression", "xbzrle", false), ("compression", "zstd", false), ("bandwidth", "100", true)], o.Parameters.Where(p => p.Name != "migrate_uri"));
    }

    [Theory]
    [InlineData("--frobnicate", "has unknown option --frobnicate")]
    [InlineData("--dname other", "option --dname is not supported: renaming the guest would hide it from the cluster")]
    [InlineData("--migrateuri", "option --migrateuri needs a value")]
    [InlineData("--bandwidth fast", "option --bandwidth needs a number")]
    [InlineData("--p2p=1", "option --p2p takes no value")]
    [InlineData("--comp-methods lz4", "has unknown compression method 'lz4' (use xbzrle, mt, zlib, zstd)")]
    public void Unknown_or_unsupported_migrate_options_are_refused(string options, string problem)
    {
        Assert.Equal(problem, MigrationOptions.Parse(options).Problem);
    }

    [Fact]
    public void A_bad_migrate_option_is_a_configuration_error_through_the_runtime()
    {
        var outcome = Outcome.Run(new VirtualDomainAgent(), "start", new Dictionary<string, string>
        {
            ["OCF_RESKEY_config"] = "/etc/libvirt/qemu/vm1.xml",
            ["OCF_RESKEY_migrate_options"] = "--live --timeout 30",
        });
        Assert.Equal(6, outcome.ExitCode);
        const string reason = "parameter 'migrate_options': '--live --timeout 30' option --timeout is not supported: the agent bounds the migration by the operation timeout";
        Assert.Contains("ERROR: " + reason, outcome.Stderr);     // whole in the log
        Assert.StartsWith(reason[..100], outcome.ExitReason);    // cut to pacemaker's 128 bytes
    }

    [Theory]
    [InlineData("force_stop", "true", "snapshot", "/var/lib/snap", "The 'force_stop' and 'snapshot' options can not be used together.")]
    [InlineData("stateless", "true", "monitor_scripts", "", "Stateless functionality can't be achieved without a backing file.")]
    [InlineData("copyindirs", "-v /etc/app", "monitor_scripts", "", "parameter 'copyindirs': '-v /etc/app' must be absolute paths, separated by spaces")]
    public void Contradicting_parameters_are_a_configuration_error(string p1, string v1, string p2, string v2, string reason)
    {
        var env = new Dictionary<string, string> { ["OCF_RESKEY_config"] = "/x.xml", ["OCF_RESKEY_" + p1] = v1, ["OCF_RESKEY_" + p2] = v2 };
        var outcome = Outcome.Run(new VirtualDomainAgent(), "start", env);
        Assert.Equal(6, outcome.ExitCode);
        Assert.Equal(reason, outcome.ExitReason);
    }

    [Theory]
    [InlineData("acpi", 1u)]
    [InlineData("acpi,agent", 3u)]
    [InlineData("signal", 8u)]
    public void Shutdown_modes_map_to_libvirt_flags(string modes, uint flags)
    {
        Assert.Equal(flags, ShutdownModes.Flags(modes, out _));
        Assert.Null(ShutdownModes.Check("paravirt,initctl"));
        Assert.Equal("has unknown mode 'reboot' (use acpi, agent, initctl, signal, paravirt)", ShutdownModes.Check("acpi,reboot"));
    }

    [Fact]
    public void Domain_config_yields_identity_and_dependencies()
    {
        var c = DomainConfig.Parse("""
            <domain type='kvm'>
              <name>web&amp;db</name><uuid>2BBEC1B7-7911-4A77-8A3D-519F5F77085D</uuid>
              <memory unit='GiB'>2</memory><vcpu placement='static' current='2'>4</vcpu>
              <devices>
                <emulator>/usr/libexec/qemu-kvm</emulator>
                <disk type='file'><source file='/gluster/vm/web.qcow2'/><target dev='vda'/></disk>
                <disk type='volume'><source pool='images' volume='data'/><target dev='vdb'/></disk>
                <disk type='file' device='cdrom'><source file='/iso/install.iso'/><target dev='hdc'/><readonly/></disk>
                <disk type='block'><source dev='/dev/drbd0'/><target dev='vdc'/><shareable/></disk>
                <interface type='network'><source network='default'/></interface>
                <interface type='bridge'><source bridge='br0'/></interface>
                <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
              </devices>
            </domain>
            """);
        Assert.Equal("web&db", c.Name);
        Assert.Equal("2bbec1b7-7911-4a77-8a3d-519f5f77085d", c.Uuid);
        Assert.True(c.HasGuestAgent);
        Assert.Equal(["images"], c.Pools);
        Assert.Equal(["default"], c.Networks);
        Assert.Equal(["/gluster/vm/web.qcow2", "images/data"], c.Disks.Where(d => d.Writable).Select(d => d.ToString()));
        Assert.Equal("/usr/libexec/qemu-kvm", c.Emulator);
    }

    /// <summary>The identity never depends on what the agent does not use: sizes in any of the units
    /// libvirt accepts (and ones it does not) are libvirt's business.</summary>
    [Theory]
    [InlineData("mib")] [InlineData("m")] [InlineData("K")] [InlineData("PiB")] [InlineData("bytes")] [InlineData("eb")] [InlineData("parsecs")]
    public void Any_memory_unit_leaves_the_identity_readable(string unit)
    {
        var c = DomainConfig.Parse($"<domain><name>vm1</name><memory unit='{unit}'>96</memory><vcpu>x</vcpu></domain>");
        Assert.Equal(new DomainId("vm1", null), c.Id);
    }

    [Theory]
    [InlineData("2bbec1b7-7911-4a77-8a3d-519f5f77085d", null, "2bbec1b7-7911-4a77-8a3d-519f5f77085d")]
    [InlineData("2BBEC1B779114A778A3D519F5F77085D", null, "2bbec1b7-7911-4a77-8a3d-519f5f77085d")]
    [InlineData("vm1", "vm1", null)]
    [InlineData("2bbec1b7-7911", "2bbec1b7-7911", null)]
    public void The_domain_parameter_is_a_uuid_in_any_spelling_or_a_name(string given, string? name, string? uuid)
    {
        Assert.Equal(new DomainId(name, uuid), DomainId.Parse(given));
    }

    [Theory]
    [InlineData("<domain><memory>1</memory></domain>", "no <name>")]
    [InlineData("<network><name>x</name></network>", "root element is <network>, not <domain>")]
    [InlineData("<domain><name>x</name><uuid>not-a-uuid</uuid></domain>", "<uuid> 'not-a-uuid' is not a UUID")]
    [InlineData("<domain><name>x</name>", "XML: element domain is not closed")]
    [InlineData("<domain><name>x</na", "XML:")]
    public void A_bad_domain_config_says_what_is_wrong(string xml, string problem)
    {
        var e = Assert.Throws<FormatException>(() => DomainConfig.Parse(xml));
        Assert.StartsWith(problem, e.Message);
    }

    [Theory]
    [InlineData("guest=vm1,debug-threads=on", "vm1")]      // EL8/EL9 form, the anchor's #1613
    [InlineData("guest=a,,b,debug-threads=on", "a,b")]
    [InlineData("vm1", "vm1")]
    public void Qemu_name_argument_yields_the_guest_name(string value, string name)
    {
        Assert.Equal(name, QemuProcesses.GuestName(value));
    }

    [Fact]
    public void Qemu_processes_match_on_exact_name_or_uuid_only()
    {
        string[] Argv(params string[] args) => args;
        var argv = Argv("/usr/bin/qemu-system-x86_64", "-name", "guest=vm1,debug-threads=on", "-uuid", "2BBEC1B7-7911-4A77-8A3D-519F5F77085D");
        Assert.True(QemuProcesses.Matches(argv, new("vm1", null)));
        Assert.False(QemuProcesses.Matches(argv, new("vm", null)));
        Assert.False(QemuProcesses.Matches(Argv("/usr/bin/qemu-system-x86_64", "-name", "guest=vm1-b"), new("vm1", null)));
        Assert.True(QemuProcesses.Matches(argv, DomainId.Parse("2bbec1b7-7911-4a77-8a3d-519f5f77085d")));
        Assert.True(QemuProcesses.Matches(argv, DomainId.Parse("2bbec1b779114a778a3d519f5f77085d")));   // the domain parameter without dashes
        Assert.True(QemuProcesses.Matches(argv, new("other", "2bbec1b7-7911-4a77-8a3d-519f5f77085d")));  // either is enough
        Assert.False(QemuProcesses.Matches(argv, DomainId.Parse("00000000-0000-0000-0000-000000000000")));
    }

    [Fact]
    public void Qemu_processes_are_found_in_a_proc_tree()
    {
        var proc = Directory.CreateTempSubdirectory("kvmocf-proc-").FullName;
        try
        {
            void Process(int pid, string comm, params string[] argv)
            {
                Directory.CreateDirectory($"{proc}/{pid}");
                File.WriteAllText($"{proc}/{pid}/comm", comm + "\n");
                File.WriteAllText($"{proc}/{pid}/cmdline", string.Join('\0', argv) + "\0");
            }
            Process(100, "qemu-system-x86", "/usr/bin/qemu-system-x86_64", "-name", "guest=vm1,debug-threads=on");
            Process(200, "bash", "grep", "-name", "guest=vm1,x");   // not a qemu
            Process(300, "qemu-kvm", "/usr/libexec/qemu-kvm", "-name", "guest=vm2");
            Process(400, "my-hypervisor-w", "/opt/my-hypervisor-wrapper", "-name", "guest=vm4");   // a custom emulator
            Process(500, "kvm", "/usr/bin/kvm", "-name", "guest=vm5");
            Process(600, "qemu-system-x86", "/usr/bin/qemu-system-x86_64", "-name", "guest=vm6");
            Directory.CreateDirectory($"{proc}/self/ns");
            File.CreateSymbolicLink($"{proc}/self/ns/net", "net:[1]");
            Directory.CreateDirectory($"{proc}/600/ns");
            File.CreateSymbolicLink($"{proc}/600/ns/net", "net:[2]");                     // another host's qemu
            Assert.Equal([100], QemuProcesses.Find(new("vm1", null), null, proc));
            Assert.Equal([300], QemuProcesses.Find(new("vm2", null), null, proc));
            Assert.Empty(QemuProcesses.Find(new("vm3", null), null, proc));
            Assert.Empty(QemuProcesses.Find(new("vm4", null), null, proc));
            Assert.Equal([400], QemuProcesses.Find(new("vm4", null), "/opt/my-hypervisor-wrapper", proc));
            Assert.Equal([500], QemuProcesses.Find(new("vm5", null), null, proc));
            Assert.Empty(QemuProcesses.Find(new("vm6", null), null, proc));
            Assert.Equal([100], QemuProcesses.Find(new("vm1", null), null, proc));        // its namespace unreadable: counts as ours
        }
        finally { Directory.Delete(proc, recursive: true); }
    }

    [Theory]
    [InlineData("qemu:///system", "/run/libvirt/libvirt-sock")]
    [InlineData("qemu+unix:///system?socket=/lab/h1/sock", "/lab/h1/sock")]
    [InlineData("qemu:///session", null)]
    [InlineData("qemu+ssh://node2/system", null)]
    [InlineData("xen:///system", null)]
    public void The_rpc_path_serves_local_system_uris(string uri, string? socket)
    {
        Assert.Equal(socket, RpcClient.SocketFor(uri, exists: _ => false));
        Assert.Equal("/run/libvirt/virtqemud-sock", RpcClient.SocketFor("qemu:///system", exists: p => p.EndsWith("virtqemud-sock")));
    }

    /// <summary>Frames recorded from libvirtd 9.0 (see the RPC reference): our encoding matches.</summary>
    [Fact]
    public void Xdr_encodes_as_libvirt_expects()
    {
        var w = new XdrWriter();
        w.OptionalString("qemu:///system");
        w.UInt(0);
        Assert.Equal("000000010000000e71656d753a2f2f2f73797374656d000000000000", Convert.ToHexString(w.ToArray()).ToLowerInvariant());

        var reply = new XdrReader(Convert.FromHexString("0000000772706374657374001c525b2f59d14c6b8c3ae1ceff1932ff00000001"));
        var domain = reply.Domain();
        Assert.Equal(("rpctest", "1c525b2f-59d1-4c6b-8c3a-e1ceff1932ff", 1), (domain.Name, domain.UuidText, domain.Id));
    }

    [Fact]
    public void An_rpc_error_reply_carries_libvirts_code_and_message()
    {
        var body = Convert.FromHexString(
            "0000002a0000000a000000010000003a446f6d61696e206e6f7420666f756e643a206e6f20646f6d61696e2077697468206d61746368696e67206e616d6520276e6f73756368646f6d27000000000002");
        var error = RpcError.Read(new XdrReader(body));
        Assert.Equal(42, error.ErrorCode);
        Assert.Equal("Domain not found: no domain with matching name 'nosuchdom'", error.Reason);
    }

    [Fact]
    public void Metadata_keeps_every_anchor_parameter_with_its_default()
    {
        var root = Xml.Parse(Metadata.Xml(new VirtualDomainAgent()));
        string? Default(string name) =>
            root.Descendants("parameter").Single(p => p.Attribute("name") == name).Element("content")?.Attribute("default");
        string[] anchor = ["config", "hypervisor", "force_stop", "migration_transport", "migration_user", "migration_downtime",
            "migration_speed", "migration_network_suffix", "migrateuri", "migrate_options", "monitor_scripts",
            "autoset_utilization_cpu", "autoset_utilization_host_memory", "autoset_utilization_hv_memory",
            "unset_utilization_cpu", "unset_utilization_host_memory", "unset_utilization_hv_memory", "migrateport",
            "remoteuri", "save_config_on_stop", "sync_config_on_stop", "snapshot", "backingfile", "stateless",
            "copyindirs", "shutdown_mode", "start_resources"];
        var declared = root.Descendants("parameter").Select(p => p.Attribute("name")).ToHashSet();
        Assert.All(anchor, name => Assert.Contains(name, declared));
        Assert.Equal("true", Default("autoset_utilization_cpu"));
        Assert.Equal("false", Default("force_stop"));
        Assert.Equal("0", Default("migration_speed"));
        Assert.Equal("1", root.Descendants("parameter").Single(p => p.Attribute("name") == "config").Attribute("required"));
        Assert.Equal(["start", "stop", "monitor", "migrate_from", "migrate_to", "meta-data", "validate-all"],
            root.Element("actions")!.Elements("action").Select(a => a.Attribute("name")));
    }

    [Fact]
    public void Agent_declarations_are_consistent()
    {
        Assert.Empty(new VirtualDomainAgent().Parameters.SelectMany(p => p.DeclarationErrors()));
        Assert.Empty(new SampleAgent().Parameters.SelectMany(p => p.DeclarationErrors()));
    }

    [Theory]
    [InlineData("starting domain vm1: internal error: qemu unexpectedly closed the monitor: 2026-12-02T05:41:35.849713Z qemu-system-x86_64: -device {\"driver\":\"virtio-blk-pci\"}: Failed to get \"write\" lock\nIs another process using the image [/mnt/vmstore/vm1.img]?", "/mnt/vmstore/vm1.img")]
    [InlineData("resuming vm1: resource busy: Lockspace resource '/var/lib/libvirt/images/vm1.qcow2' is locked", "/var/lib/libvirt/images/vm1.qcow2")]
    [InlineData("starting domain vm1: Requested operation is not valid: network 'default' is not active", null)]
    public void A_start_refused_for_a_locked_disk_names_the_disk(string reason, string? disk)
    {
        Assert.Equal(disk, Guest.LockedDisk(reason));
    }
}
