using KvmOcf.IntegrationTests.Harness;
using Xunit.Abstractions;

namespace KvmOcf.IntegrationTests;

/// <summary>Thousands of generated environments — the guest named in every spelling the agent
/// accepts, its config whole, in odd units, half-written or missing, with or without the identity
/// cached, and every other parameter and meta attribute random (valid, invalid, empty, huge) — fed
/// to probe, monitor and stop of the real binary against a running guest. Whatever the input:
/// never an answer pacemaker reads as "stopped" while it runs, never a stack trace, never past the
/// deadline; and a stop that says 0 has really stopped the guest.</summary>
[Collection(LibvirtCollection.Name)]
[Trait("Stack", "libvirt")]
public sealed class VirtualDomainPropertyTests : IDisposable
{
    private const int Environments = 5000;
    private static readonly string Agent = VirtualDomainAgent.Staged;
    private readonly LibvirtDaemon _libvirt;
    private readonly ITestOutputHelper _output;
    private readonly string _rsctmp = Directory.CreateTempSubdirectory("kvmocf-vdprop-").FullName;
    private readonly TestDomain _guest;

    public VirtualDomainPropertyTests(LibvirtDaemon libvirt, ITestOutputHelper output)
    {
        (_libvirt, _output) = (libvirt, output);
        Repo.RequireBuild();
        _guest = new TestDomain($"kvmocf-prop-{Guid.NewGuid().ToString()[..6]}", libvirt.WorkDirectory, libvirt.GuestDirectory);
    }

    public void Dispose()
    {
        _libvirt.Virsh("destroy", _guest.Name);
        Directory.Delete(_rsctmp, recursive: true);
    }

    /// <summary>Values for the parameters that do not say which guest this is.</summary>
    private static readonly string[] Noise =
    [
        "", "true", "false", "1", "0", "on", "maybe", "-1", "99999999999999999999", "10s", "500ms", "2min", "5 parsecs",
        "/nonexistent/kvmocf-prop", "relative/path", "--p2p --tunnelled", "--timeout 30", "acpi", "acpi,reboot", "tcp", "ssh",
        "xbzrle,zstd", "lz4", "%n", "tcp://%n:49999", "ünïcødé ✓", "a\nb", "'; rm -rf / #", new string('x', 5000),
    ];

    private static readonly string[] NoiseParameters =
    [
        "force_stop", "shutdown_mode", "destroy_timeout", "snapshot", "save_config_on_stop", "sync_config_on_stop", "start_resources",
        "backingfile", "stateless", "copyindirs", "monitor_scripts", "guest_agent_timeout", "guest_agent_startup", "ioerror_grace",
        "autoset_utilization_cpu", "autoset_utilization_host_memory", "autoset_utilization_hv_memory", "unset_utilization_cpu",
        "migration_transport", "migration_user", "migration_downtime", "migration_speed", "migration_network_suffix",
        "migrateuri", "migrate_options", "migrateport", "remoteuri", "migration_auto_converge", "migration_postcopy",
        "migration_parallel_connections", "migration_compression", "not_a_parameter",
    ];

    [Fact]
    public void No_environment_makes_a_running_guest_look_stopped()
    {
        var seed = Environment.GetEnvironmentVariable("KVMOCF_PROPERTY_SEED") is { } s ? int.Parse(s) : Random.Shared.Next();
        _output.WriteLine($"seed {seed} (replay with KVMOCF_PROPERTY_SEED={seed})");
        var random = new Random(seed);
        var config = File.ReadAllText(_guest.ConfigPath);
        var uuid = StartGuest();
        var variants = ConfigVariants(config);
        var failures = new List<string>();
        var counts = new Dictionary<string, int>();
        int stops = 0;

        for (int i = 0; i < Environments && failures.Count < 10; i++)
        {
            var (identity, parameters, resolvable) = Generate(random, uuid, variants);
            var action = random.Next(20) switch { 0 => "stop", < 10 => "probe", _ => "monitor" };
            if (action == "stop" && resolvable && stops++ >= 8) action = "monitor";   // real stops cost a restart
            var timeout = TimeSpan.FromSeconds(random.Next(5, 30));
            parameters["OCF_RESKEY_CRM_meta_interval"] = action == "probe" ? "0" : "10000";
            if (random.Next(10) == 0) parameters["OCF_RESKEY_CRM_meta_interval"] = random.Next(2) == 0 ? "soon" : "-5";
            if (random.Next(4) == 0) parameters["OCF_CHECK_LEVEL"] = random.Next(3) switch { 0 => "10", 1 => "20", _ => "deep" };
            if (random.Next(3) == 0) foreach (var f in Directory.GetFiles(_rsctmp)) File.Delete(f);   // nothing cached on this node

            var run = AgentRun.Run(Agent, action == "probe" ? "monitor" : action, parameters, timeout);
            counts[$"{action} {run.Code}"] = counts.GetValueOrDefault($"{action} {run.Code}") + 1;
            bool runs = _guest.QemuPids().Count == 1;
            string? wrong =
                run.Stderr.Contains("   at ") ? "a stack trace" :
                run.Elapsed >= timeout ? $"answered after {run.Elapsed.TotalSeconds:0.0}s of a {timeout.TotalSeconds}s timeout" :
                run.Stderr.Split('\n').Count(l => l.StartsWith("ocf-exit-reason:")) > 1 ? "more than one exit reason" :
                action != "stop" && runs && run.Code is 2 or 5 or 6 or 7 ? $"{run.Code} while the guest runs" :
                action == "stop" && run.Code == 0 && _guest.QemuPids().Count > 0 ? "0 from stop while qemu still runs" :
                action == "stop" && run.Code is not (0 or 1) ? $"{run.Code} from stop" :
                null;
            if (wrong is not null) failures.Add($"#{i} {action} [{identity}] {Describe(parameters)}: {wrong} — {run}");
            if (!runs) uuid = StartGuest();
        }

        _output.WriteLine(string.Join("\n", counts.OrderBy(c => c.Key).Select(c => $"{c.Key}: {c.Value}")));
        Assert.True(failures.Count == 0, $"seed {seed}:\n" + string.Join("\n", failures));
    }

    private string StartGuest()
    {
        foreach (var f in Directory.GetFiles(_rsctmp)) File.Delete(f);
        var start = VirtualDomainAgent.Run(_guest, "start", TimeSpan.FromSeconds(60), _rsctmp);
        Assert.True(start.Code == 0, start.ToString());
        return _libvirt.Virsh("domuuid", _guest.Name).StandardOutput.Trim();
    }

    private Dictionary<string, string> Base(string config) => new(VirtualDomainAgent.Parameters(_guest, _rsctmp)) { ["config"] = config };

    /// <summary>Files that may stand at the config path: whole, in other units, cut short, empty, garbage.</summary>
    private Dictionary<string, (string Path, bool Names)> ConfigVariants(string config)
    {
        string Write(string name, string text)
        {
            var path = Path.Combine(_libvirt.WorkDirectory, $"{_guest.Name}-{name}.xml");
            File.WriteAllText(path, text);
            return path;
        }
        return new()
        {
            ["whole"] = (_guest.ConfigPath, true),
            ["whole, //spelled"] = (_guest.ConfigPath.Replace("/tmp/", "/tmp//./"), true),
            ["unit=mib"] = (Write("mib", config.Replace("unit='MiB'", "unit='mib'")), true),
            ["unit=PiB"] = (Write("pib", config.Replace("unit='MiB'", "unit='PiB'")), true),
            ["half-written"] = (Write("half", config[..(config.Length / 2)]), false),
            ["empty"] = (Write("empty", ""), false),
            ["not xml"] = (Write("garbage", "\u0001\u0002 not a domain <<<"), false),
            ["missing"] = (Path.Combine(_libvirt.WorkDirectory, "nonexistent.xml"), false),
        };
    }

    private (string Identity, Dictionary<string, string> Parameters, bool Resolvable) Generate(
        Random random, string uuid, Dictionary<string, (string Path, bool Names)> variants)
    {
        var (kind, (path, names)) = variants.ElementAt(random.Next(variants.Count));
        var parameters = Base(path);
        var domain = random.Next(4) switch
        {
            0 => _guest.Name,
            1 => uuid,
            2 => uuid.Replace("-", "").ToUpperInvariant(),
            _ => null,
        };
        if (domain is not null) parameters["domain"] = domain;
        if (random.Next(5) == 0) parameters["hypervisor"] = "qemu:///system";
        foreach (var name in NoiseParameters)
            if (random.Next(4) == 0) parameters[name] = Noise[random.Next(Noise.Length)];
        return ($"config {kind}" + (domain is null ? "" : $", domain={domain}"), parameters, names || domain is not null);
    }

    private static string Describe(Dictionary<string, string> parameters) =>
        string.Join(' ', parameters.Where(p => p.Key is not ("config" or "domain" or "HA_RSCTMP" or "OCF_RESOURCE_INSTANCE"))
            .Select(p => $"{p.Key}={KvmOcf.Core.OneLine.Of(p.Value, 20)}"));
}
