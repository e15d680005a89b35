using KvmOcf.Libvirt;
using KvmOcf.Ocf;

namespace KvmOcf.VirtualDomain;

/// <summary>ocf:kvmocf:VirtualDomain — a libvirt/KVM guest. A drop-in for ocf:heartbeat:VirtualDomain
/// (same parameters, names, meanings and defaults) that never reports a guest stopped unless it
/// knows, bounds every libvirt call by the action's deadline, and answers a monitor without loading
/// libvirt.so.</summary>
public sealed class VirtualDomainAgent : ResourceAgent
{
    // ---- identity and connection -------------------------------------------------------------
    public static readonly StringParameter Config = new("config")
    {
        Required = true,
        UniqueGroup = "config",
        ShortDescription = "Virtual domain configuration file",
        LongDescription = "Absolute path to the libvirt configuration file, for this virtual domain.",
        Check = AbsolutePath,
    };

    public static readonly StringParameter DomainName = new("domain")
    {
        UniqueGroup = "domain",
        ShortDescription = "Domain name or UUID",
        LongDescription = "The domain's name or UUID. Default: read from the config file. Setting it lets probes, " +
            "monitors and stop identify the guest without reading the config, so an unreadable or unmounted " +
            "config can never make a running guest look stopped. (The name is also cached on each node once the " +
            "config has been read.)",
        MaxLength = 256,
    };

    public static readonly StringParameter HypervisorUri = new("hypervisor")
    {
        ShortDescription = "Hypervisor URI",
        LongDescription = "Hypervisor URI to connect to. See the libvirt documentation for details on supported URI " +
            "formats. Default: LIBVIRT_DEFAULT_URI if set, else qemu:///system.",
        Check = uri => uri.Contains(":/") ? null : "is not a libvirt URI (e.g. qemu:///system)",
    };

    // ---- stop ----------------------------------------------------------------------------------
    public static readonly BooleanParameter ForceStop = new("force_stop")
    {
        ShortDescription = "Always force shutdown on stop",
        LongDescription = "Always forcefully shut down (\"destroy\") the domain on stop. The default behavior is to " +
            "resort to a forceful shutdown only after a graceful shutdown attempt has failed. You should only set " +
            "this to true if your virtual domain (or your virtualization backend) does not support graceful shutdown.",
    };

    public static readonly StringParameter ShutdownMode = new("shutdown_mode")
    {
        ShortDescription = "Instruct virsh to use specific shutdown mode",
        LongDescription = "The shutdown modes to use for the graceful shutdown, as for virsh shutdown --mode: a " +
            "comma-separated list of acpi, agent, initctl, signal, paravirt. Default: the hypervisor's choice.",
        Check = ShutdownModes.Check,
    };

    public static readonly TimeParameter DestroyTimeout = new("destroy_timeout")
    {
        Default = TimeSpan.FromSeconds(20),
        Maximum = TimeSpan.FromHours(1),
        ShortDescription = "Time kept for a forced stop",
        LongDescription = "The last part of the stop timeout that the graceful shutdown leaves for destroying the " +
            "domain if it has not shut down by then. libvirt needs about 10 s to SIGKILL a qemu that ignores SIGTERM " +
            "and more to release its devices; the anchor agent left 5 s.",
    };

    public static readonly StringParameter Snapshot = new("snapshot")
    {
        ShortDescription = "Restore state on start/stop",
        LongDescription = "Path to the snapshot directory where the virtual machine image will be stored. When this " +
            "parameter is set, the virtual machine's RAM state will be saved to a file in the snapshot directory when " +
            "stopped. If on start a state file is present for the domain, the domain will be restored to the same " +
            "state it was in right before it stopped last. This option is incompatible with the 'force_stop' option.",
        Check = AbsolutePath,
    };

    public static readonly BooleanParameter SaveConfigOnStop = new("save_config_on_stop")
    {
        ShortDescription = "Save running VM's config back to its config file",
        LongDescription = "Changes to a running VM's config are normally lost on stop. This parameter instructs the " +
            "agent to save the configuration back to the xml file provided in the config parameter (on stop and " +
            "migrate_to; written atomically, and only when it changed).",
    };

    public static readonly BooleanParameter SyncConfigOnStop = new("sync_config_on_stop")
    {
        ShortDescription = "Save running VM's config back to its config file",
        LongDescription = "Setting this automatically enables save_config_on_stop. When enabled this parameter " +
            "instructs the agent to call csync2 -x to synchronize the file to all nodes. csync2 must be properly " +
            "set up for this to work.",
    };

    // ---- start ---------------------------------------------------------------------------------
    public static readonly BooleanParameter StartResources = new("start_resources")
    {
        ShortDescription = "Ensure the needed virtual storage pools and networks are started",
        LongDescription = "Start the virtual storage pools and networks used by the virtual machine before starting " +
            "it or before live migrating it.",
    };

    public static readonly StringParameter BackingFile = new("backingfile")
    {
        ShortDescription = "If the VM is wanted to work with Copy-On-Write mode, this is the backing file to use (with its full path)",
        LongDescription = "When the VM is used in Copy-On-Write mode, this is the backing file to use (with its full " +
            "path). The VMs image will be created based on this backing file. This backing file will never be " +
            "changed during the life of the VM. The overlay is <config without its extension>.qcow2 and the domain " +
            "XML must use it as its disk.",
        Check = AbsolutePath,
    };

    public static readonly BooleanParameter Stateless = new("stateless")
    {
        ShortDescription = "If set to true, the (<vmname>.qcow2) file will be re-created at each start, based on the backing file (if defined)",
        LongDescription = "If set to true and backingfile is defined, the start of the VM will systematically create " +
            "a new qcow2 based on the backing file, therefore the VM will always be stateless. If set to false, the " +
            "start of the VM will use the COW (<vmname>.qcow2) file if it exists, otherwise the first start will " +
            "create a new qcow2 based on the backing file given as backingfile.",
    };

    public static readonly StringParameter CopyInDirs = new("copyindirs")
    {
        ShortDescription = "List of directories for the virt-copy-in before booting the VM stateless mode.",
        LongDescription = "List of directories for the virt-copy-in before booting the VM. Used only in stateless mode.",
        Check = dirs => dirs.Split(' ', StringSplitOptions.RemoveEmptyEntries).All(Path.IsPathFullyQualified) ? null : "must be absolute paths, separated by spaces",
    };

    // ---- monitor -------------------------------------------------------------------------------
    public static readonly StringParameter MonitorScripts = new("monitor_scripts")
    {
        ShortDescription = "space-separated list of monitor scripts",
        LongDescription = "To additionally monitor services within the virtual domain, add this parameter with a " +
            "list of scripts to monitor. Note: when monitor scripts are used, the start and migrate_from operations " +
            "will complete only when all monitor scripts have completed successfully. Each script runs bounded by " +
            "the operation's deadline.",
    };

    public static readonly TimeParameter GuestAgentTimeout = new("guest_agent_timeout")
    {
        Default = TimeSpan.FromSeconds(5),
        Minimum = TimeSpan.FromSeconds(1),
        Maximum = TimeSpan.FromMinutes(5),
        ShortDescription = "Guest agent answer time at check level 10",
        LongDescription = "A monitor with OCF_CHECK_LEVEL=10 (op monitor ... OCF_CHECK_LEVEL=10) pings the QEMU guest " +
            "agent of a domain that has one (channel org.qemu.guest_agent.0); a guest that does not answer within " +
            "this time is a monitor failure. This catches a guest that boots but hangs.",
    };

    public static readonly TimeParameter GuestAgentStartup = new("guest_agent_startup")
    {
        Default = TimeSpan.FromMinutes(2),
        Maximum = TimeSpan.FromHours(1),
        ShortDescription = "Time a starting guest has until its agent answers",
        LongDescription = "For this long after start or migrate_from, a check level 10 monitor does not require the " +
            "guest agent to answer: a booting guest starts its agent late.",
    };

    public static readonly TimeParameter IoErrorGrace = new("ioerror_grace")
    {
        Default = TimeSpan.FromSeconds(60),
        Maximum = TimeSpan.FromDays(1),
        ShortDescription = "How long a guest paused on an I/O error may stay so",
        LongDescription = "QEMU pauses a guest whose storage fails (all replicas of its volume gone, a lost LUN). The " +
            "monitor reports such a guest degraded (OCF_DEGRADED) while its storage may come back, and a failure once " +
            "it has been paused for longer than this, so that the cluster recovers it where its storage works. A " +
            "guest paused by an admin or by a migration is not affected. 0: fail at once.",
    };

    public static readonly BooleanParameter RequireDiskLeases = new("require_disk_leases")
    {
        ShortDescription = "Start only a guest whose writable disks hold leases",
        LongDescription = "libvirt's lock manager (virtlockd with file_lockspace_dir on shared storage, or sanlock) makes a " +
            "second start of the same disks fail inside libvirt instead of corrupting them. start and validate-all " +
            "(OCF_CHECK_LEVEL=10) report which writable disks such a lease protects; with this set, start refuses " +
            "(OCF_ERR_INSTALLED) a guest with an unprotected writable disk.",
    };

    public static readonly BooleanParameter AutosetCpu = Autoset("cpu", "CPU", "the number of domainU's vCPUs from virsh");
    public static readonly BooleanParameter AutosetHostMemory = Autoset("host_memory", "host_memory", "the Max memory from virsh");
    public static readonly BooleanParameter AutosetHvMemory = Autoset("hv_memory", "hv_memory", "the Max memory from virsh");
    public static readonly BooleanParameter UnsetCpu = Unset("cpu", "CPU");
    public static readonly BooleanParameter UnsetHostMemory = Unset("host_memory", "host_memory");
    public static readonly BooleanParameter UnsetHvMemory = Unset("hv_memory", "hv_memory");

    // ---- migration -----------------------------------------------------------------------------
    public static readonly StringParameter MigrationTransport = new("migration_transport")
    {
        ShortDescription = "Remote hypervisor transport",
        LongDescription = "Transport used to connect to the remote hypervisor while migrating. Please refer to the " +
            "libvirt documentation for details on transports available. If this parameter is omitted, the resource " +
            "will use libvirt's default transport to connect to the remote hypervisor.",
        Check = t => t.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)) ? null : "is not a libvirt transport (e.g. ssh, tcp, tls)",
    };

    public static readonly StringParameter MigrationUser = new("migration_user")
    {
        ShortDescription = "Remote username for the remoteuri",
        LongDescription = "The username will be used in the remote libvirt remoteuri/migrateuri. No user will be " +
            "given (which means root) in the username if omitted. If remoteuri is set, migration_user will be ignored.",
        Check = u => MigrationUris.IsUserName(u) ? null : "is not a user name (lower-case letters, digits, - and _)",
    };

    public static readonly IntegerParameter MigrationDowntime = new("migration_downtime")
    {
        Default = 0,
        Minimum = 0,
        Maximum = 3_600_000,
        ShortDescription = "Live migration downtime",
        LongDescription = "Define max downtime during live migration in milliseconds",
    };

    public static readonly IntegerParameter MigrationSpeed = new("migration_speed")
    {
        Default = 0,
        Minimum = 0,
        Maximum = 1_000_000,
        ShortDescription = "Live migration speed",
        LongDescription = "Define live migration speed per resource in MiB/s",
    };

    public static readonly StringParameter MigrationNetworkSuffix = new("migration_network_suffix")
    {
        ShortDescription = "Migration network host name suffix",
        LongDescription = "Use a dedicated migration network. The migration URI is composed by adding this " +
            "parameters value to the end of the node name. If the node name happens to be an FQDN (as opposed to an " +
            "unqualified host name), insert the suffix immediately prior to the first period (.) in the FQDN. At the " +
            "moment Qemu/KVM and Xen migration via a dedicated network is supported. Note: Be sure this composed host " +
            "name is locally resolvable and the associated IP is reachable through the favored network. This suffix " +
            "will be added to the remoteuri and migrateuri parameters.",
        Check = s => s.Any(c => char.IsWhiteSpace(c) || c is '/' or '@' or ':') ? "is not a host name suffix" : null,
    };

    public static readonly StringParameter MigrateUri = new("migrateuri")
    {
        ShortDescription = "Custom migrateuri for migration state transfer",
        LongDescription = "You can also specify here if the calculated migrate URI is unsuitable for your " +
            "environment. If migrateuri is set then migration_network_suffix, migrateport and --migrateuri in " +
            "migrate_options are effectively ignored. Use \"%n\" as the placeholder for the target node name.",
    };

    public static readonly StringParameter MigrateOptions = new("migrate_options")
    {
        ShortDescription = "live migrate options",
        LongDescription = "Extra virsh options for the guest live migration. You can also specify here --migrateuri " +
            "if the calculated migrate URI is unsuitable for your environment. If --migrateuri is set then " +
            "migration_network_suffix and migrateport are effectively ignored. Use \"%n\" as the placeholder for the " +
            "target node name. Each virsh option is mapped to the libvirt migration flag or parameter it stands for; " +
            "an option without one is refused.",
        Check = options => MigrationOptions.Parse(options).Problem,
    };

    public static readonly IntegerParameter MigratePort = new("migrateport")
    {
        Default = 0,
        Minimum = 0,
        Maximum = 65535,
        ShortDescription = "Port for migrateuri",
        LongDescription = "This port will be used in the qemu migrateuri. If unset (0), libvirt picks a free port " +
            "from its migration port range.",
    };

    public static readonly StringParameter RemoteUri = new("remoteuri")
    {
        ShortDescription = "Custom remoteuri to communicate with a remote hypervisor",
        LongDescription = "Use this URI as virsh connection URI to communicate with a remote hypervisor. If " +
            "remoteuri is set then migration_user and migration_network_suffix are effectively ignored. Use \"%n\" " +
            "as the placeholder for the target node name.",
    };

    public static readonly BooleanParameter MigrationAutoConverge = new("migration_auto_converge")
    {
        ShortDescription = "Throttle the guest's CPUs until migration converges",
        LongDescription = "Migrate with auto-converge: libvirt slows the guest's vCPUs down while its memory changes " +
            "faster than it can be copied (a busy guest's migration may otherwise never finish).",
    };

    public static readonly BooleanParameter MigrationPostcopy = new("migration_postcopy")
    {
        ShortDescription = "Switch to post-copy when pre-copy does not finish",
        LongDescription = "Migrate with post-copy enabled and switch to post-copy when half the migration's time " +
            "has passed: the guest then runs on the target while its remaining memory follows. A network failure " +
            "during post-copy loses the guest, so use it only on a reliable migration network.",
    };

    public static readonly IntegerParameter MigrationParallelConnections = new("migration_parallel_connections")
    {
        Default = 0,
        Minimum = 0,
        Maximum = 256,
        ShortDescription = "Parallel migration connections",
        LongDescription = "Migrate memory over this many parallel connections (0: one connection).",
    };

    public static readonly StringParameter MigrationCompression = new("migration_compression")
    {
        ShortDescription = "Migration compression methods",
        LongDescription = "Compress migration data with these methods, a comma-separated list of xbzrle, mt, zlib " +
            "and zstd. Default: none.",
        Check = methods => MigrationOptions.CheckCompression(methods),
    };

    private static BooleanParameter Autoset(string attribute, string what, string source) => new($"autoset_utilization_{attribute}")
    {
        Default = true,
        ShortDescription = $"Enable auto-setting the {what} utilization of the resource",
        LongDescription = $"If set true, the agent will detect {source}, and put it into the {attribute} " +
            "utilization of the resource when the monitor is executed (written only when it changes).",
    };

    private static BooleanParameter Unset(string attribute, string what) => new($"unset_utilization_{attribute}")
    {
        ShortDescription = $"Enable auto-removing the {what} utilization of the resource",
        LongDescription = $"If set true then the agent will remove the {attribute} utilization resource when the " +
            "monitor is executed (used only when the matching autoset_utilization is false).",
    };

    private static string? AbsolutePath(string path) => Path.IsPathFullyQualified(path) ? null : "is not an absolute path";

    public override string Name => "VirtualDomain";
    public override string ShortDescription => "Manages virtual domains through the libvirt virtualization framework";
    public override string LongDescription =>
        "Resource agent for a virtual domain (a.k.a. domU, virtual machine, virtual environment etc., depending on " +
        "context) managed by libvirtd. A drop-in replacement for ocf:heartbeat:VirtualDomain: same parameters, plus " +
        "domain (identify the guest without its config), destroy_timeout, guest_agent_timeout and migration tuning.\n\n" +
        "It never reports a guest stopped unless it knows: when libvirtd is down or hung, or the config cannot be " +
        "read, it returns an error (a probe also consults the qemu process table). Every libvirt call is bounded by " +
        "the operation's timeout. stop succeeds only once the guest is verified gone.";

    public override IReadOnlyList<Parameter> Parameters =>
    [
        Config, DomainName, HypervisorUri, ForceStop, ShutdownMode, DestroyTimeout, Snapshot, SaveConfigOnStop,
        SyncConfigOnStop, StartResources, BackingFile, Stateless, CopyInDirs, MonitorScripts, GuestAgentTimeout, GuestAgentStartup, IoErrorGrace, RequireDiskLeases,
        AutosetCpu, AutosetHostMemory, AutosetHvMemory, UnsetCpu, UnsetHostMemory, UnsetHvMemory,
        MigrationTransport, MigrationUser, MigrationDowntime, MigrationSpeed, MigrationNetworkSuffix, MigrateUri,
        MigrateOptions, MigratePort, RemoteUri, MigrationAutoConverge, MigrationPostcopy,
        MigrationParallelConnections, MigrationCompression,
    ];

    public override IReadOnlyList<OcfAction> Actions =>
    [
        new("start", TimeSpan.FromSeconds(90), ctx => new Guest(ctx).Start()),
        new("stop", TimeSpan.FromSeconds(90), ctx => new Guest(ctx).Stop()),
        new("monitor", TimeSpan.FromSeconds(30), ctx => new Guest(ctx).Monitor()) { Interval = TimeSpan.FromSeconds(10), Depth = 0 },
        new("migrate_from", TimeSpan.FromSeconds(60), ctx => new Guest(ctx).MigrateFrom()),
        new("migrate_to", TimeSpan.FromSeconds(120), ctx => new Guest(ctx).MigrateTo()),
    ];

    public override OcfResult ValidateConfiguration(OcfContext ctx)
    {
        if (ctx.Get(ForceStop) && ctx.IsSet(Snapshot))
            return OcfResult.Configured("The 'force_stop' and 'snapshot' options can not be used together.");
        if (ctx.Get(Stateless) && !ctx.IsSet(BackingFile))
            return OcfResult.Configured("Stateless functionality can't be achieved without a backing file.");
        return OcfResult.Success;
    }

    public override OcfResult ValidateHost(OcfContext ctx) => new Guest(ctx).ValidateHost();
}
