using KvmOcf.Libvirt;
using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;
using static KvmOcf.VirtualDomain.VirtualDomainAgent;

namespace KvmOcf.VirtualDomain;

/// <summary>One VirtualDomain resource in one action: who the guest is, and the lifecycle
/// operations on it. The rule throughout: "not running" only when it is known.</summary>
internal sealed partial class Guest(OcfContext ctx)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);
    private readonly ResourceState _state = ResourceState.For(ctx);
    private DomainConfig? _config;
    private string _configXml = "";
    private OcfResult _configProblem;

    private string Uri => ctx.IsSet(HypervisorUri) ? ctx.Get(HypervisorUri)
        : ctx.Environment.NonEmpty("LIBVIRT_DEFAULT_URI") ?? "qemu:///system";

    /// <summary>A local qemu hypervisor runs its guests' processes here, where /proc can see them;
    /// for any other driver (lxc, xen) or host, libvirt's word is the only witness.</summary>
    private bool HasProcessWitness => Uri.StartsWith("qemu:///", StringComparison.Ordinal) || Uri.StartsWith("qemu+unix:///", StringComparison.Ordinal);

    // ---- identity --------------------------------------------------------------------------------

    /// <summary>Which domain this resource is: the domain parameter; else the config file as it is
    /// now; else — only while the config cannot be read or parsed — the identity last read from it
    /// on this node. The domain parameter spares every monitor the config read.</summary>
    private DomainId Identity()
    {
        if (ctx.IsSet(DomainName)) return DomainId.Parse(ctx.Get(DomainName));
        if (LoadConfig(ConfigReadDeadline()) is { } config) return config.Id;
        if (_state["config"] == ctx.Get(Config) && _state["name"] is { Length: > 0 } name)
        {
            ctx.Log.LogWarning("{Problem}; going by the domain last read from it on this node, {Name}", _configProblem.Reason, name);
            return new DomainId(name, _state["uuid"]);
        }
        throw new OcfException(OcfExitCode.ErrGeneric,
            $"cannot tell which domain this is: {_configProblem.Reason}, and no name is known on this node (set the domain parameter)");
    }

    /// <summary>The config as it is now, or null (the reason in <see cref="_configProblem"/>) when it
    /// cannot be read in time or is not a usable domain XML.</summary>
    private DomainConfig? LoadConfig(Deadline deadline)
    {
        if (_config is not null) return _config;
        var path = ctx.Get(Config);
        try
        {
            _configXml = StorageFile.ReadText(path, deadline, ctx.Log);
            _config = DomainConfig.Parse(_configXml);
        }
        catch (IOException e)
        {
            _configProblem = OcfResult.Installed($"Configuration file {path} does not exist or not readable: {e.Message}");
            return null;
        }
        catch (FormatException e)
        {
            _configProblem = OcfResult.Args($"{path} is not a usable domain XML: {e.Message}");
            return null;
        }
        _state.Update(("config", path), ("name", _config.Name), ("uuid", _config.Uuid), ("emulator", _config.Emulator),
            ("guest_agent", _config.HasGuestAgent ? "1" : "0"));
        return _config;
    }

    /// <summary>A config on hung storage must leave most of the action's time to the action.</summary>
    private Deadline ConfigReadDeadline() =>
        ctx.Deadline.AtMost(TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond * 5, ctx.Deadline.Remaining.Ticks / 4)));

    // ---- status ----------------------------------------------------------------------------------

    private enum Verdict { Running, Stopped, Failed }

    private readonly record struct Status(Verdict Verdict, string Why, GuestState? State = null);

    /// <summary>Whether the guest runs here — the one place that concludes "stopped". From libvirt,
    /// cross-checked against the qemu process table where there is one; with libvirtd unreachable,
    /// only a probe may decide, and only from that table.</summary>
    private Status CurrentStatus(DomainId id, bool withInfo, Deadline deadline)
    {
        GuestState? state;
        try { state = GuestStateQuery.Query(Uri, id, withInfo, deadline.AtMost(deadline.Remaining / 2)); }
        catch (PeerUnreachableException e)
        {
            if (!ctx.IsProbe || !HasProcessWitness) return new Status(Verdict.Failed, $"cannot determine the state of {id}: {e.Reason}");
            return QemuPids(id, deadline) is [var pid, ..]
                ? new Status(Verdict.Running, $"{id} runs (qemu pid {pid}) but libvirtd cannot be asked: {e.Reason}")
                : new Status(Verdict.Stopped, $"no qemu process runs {id} and libvirtd cannot be asked: {e.Reason}");
        }

        switch (state?.State)
        {
            case null or DomainState.Shutoff:
                var why = state is null ? $"{id} is not defined in libvirt" : $"{id} is shut off";
                if (HasProcessWitness && QemuPids(id, deadline) is [var pid, ..])
                    return new Status(Verdict.Failed, $"libvirt says {why}, but qemu process {pid} runs it");
                return new Status(Verdict.Stopped, why, state);
            case DomainState.Running or DomainState.Blocked or DomainState.Paused or DomainState.PmSuspended or DomainState.Shutdown:
                return new Status(Verdict.Running, $"{id} is {Describe(state)}", state);
            case DomainState.Crashed:
                return new Status(Verdict.Failed, $"{id} has crashed", state);
            default:
                return new Status(Verdict.Failed, $"libvirt reports no state for {id}", state);
        }
    }

    private static string Describe(GuestState state) => state.State switch
    {
        DomainState.Paused when state.Reason == GuestState.PausedIoError => "paused after an I/O error",
        DomainState.Shutdown => "shutting down",
        DomainState.PmSuspended => "suspended by the guest",
        var s => s.ToString().ToLowerInvariant(),
    };

    /// <summary>qemu processes running the guest, read on a worker thread (reading a process's
    /// cmdline can block behind its memory map, e.g. on hung storage). Whatever this node has ever
    /// learnt about the guest's name and UUID widens the search: a witness errs towards "runs".</summary>
    private List<int> QemuPids(DomainId id, Deadline deadline)
    {
        var witness = new DomainId(id.Name ?? _state["name"], id.Uuid ?? _state["uuid"]);
        var emulator = _config?.Emulator ?? _state["emulator"];
        try { return deadline.Run("reading the process table", () => QemuProcesses.Find(witness, emulator)); }
        catch (DeadlineExceededException) { throw new OcfException(OcfExitCode.ErrGeneric, $"could not read the process table in time to check on {id}"); }
    }

    // ---- monitor ---------------------------------------------------------------------------------

    public OcfResult Monitor()
    {
        var id = Identity();
        var status = CurrentStatus(id, withInfo: !ctx.IsProbe && WantsUtilization, ctx.Deadline);
        switch (status.Verdict)
        {
            case Verdict.Stopped: return OcfResult.NotRunning(status.Why);
            case Verdict.Failed: return OcfResult.Generic(status.Why);
        }
        if (ctx.IsProbe) return OcfResult.Success;

        if (IoErrorPause(id, status) is { } paused) return paused;
        if (RunMonitorScripts(id) is { } scriptFailure) return OcfResult.Generic(scriptFailure);
        if (ctx.CheckLevel >= 10 && GuestAgentProblem(id) is { } agentFailure) return OcfResult.Generic(agentFailure);
        if (status.State is { } state) UpdateUtilization(state);
        return OcfResult.Success;
    }

    /// <summary>QEMU pauses a guest whose storage fails (reason "ioerror"). That is degraded while the
    /// storage may come back, and a failure after ioerror_grace, so that pacemaker recovers the guest
    /// where its storage works. A guest paused by an admin or a migration is none of this.</summary>
    private OcfResult? IoErrorPause(DomainId id, Status status)
    {
        if (status.State is not { State: DomainState.Paused, Reason: GuestState.PausedIoError })
        {
            _state.Update(("ioerror_since", null));
            return null;
        }
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!long.TryParse(_state["ioerror_since"], out var since)) _state.Update(("ioerror_since", (since = now).ToString()));
        var paused = TimeSpan.FromSeconds(now - since);
        var grace = ctx.Get(IoErrorGrace);
        var how = $"{id} has been paused after an I/O error for {TimeParameter.FormatDuration(paused)}";
        return paused >= grace
            ? OcfResult.Generic($"{how} (ioerror_grace {TimeParameter.FormatDuration(grace)}): its storage failed")
            : OcfResult.Degraded($"{how}; it fails after ioerror_grace {TimeParameter.FormatDuration(grace)}");
    }

    private IEnumerable<string> MonitorScriptList() =>
        ctx.Get(MonitorScripts).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Runs each monitor script (bounded); the first failure, or null.</summary>
    private string? RunMonitorScripts(DomainId id)
    {
        foreach (var script in MonitorScriptList())
        {
            CommandResult result;
            try { result = ctx.Run(new Command(script)); }
            catch (CommandTimeoutException) { return $"monitor script {Path.GetFileName(script)} for {id} did not finish in time"; }
            if (!result.Succeeded)
                return $"monitor script {Path.GetFileName(script)} returned {result.ExitCode}: {result.Summary}";
        }
        return null;
    }

    /// <summary>Depth 10: a guest with a guest agent must answer a ping. Null when it does (or has no agent).</summary>
    private string? GuestAgentProblem(DomainId id)
    {
        if ((_state["guest_agent"] ?? (LoadConfig(ConfigReadDeadline())?.HasGuestAgent == true ? "1" : "0")) != "1")
        {
            ctx.Log.LogDebug("{Domain} has no guest agent channel; check level 10 checks nothing more", id);
            return null;
        }
        if (long.TryParse(_state["started"], out var started) &&
            DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeSeconds(started) < ctx.Get(GuestAgentStartup))
        {
            ctx.Log.LogDebug("{Domain} started recently; its guest agent need not answer yet", id);
            return null;
        }
        var timeout = ctx.Get(GuestAgentTimeout);
        // libvirt first syncs with the agent on its own (up to 5 s) before sending the command
        var budget = ctx.Deadline.AtMost(timeout + TimeSpan.FromSeconds(6));
        try
        {
            return GuestStateQuery.PingGuestAgent(Uri, id, timeout, budget) is { } why
                ? $"guest agent of {id} does not answer: {why}"
                : null;
        }
        catch (PeerUnreachableException) when (!ctx.Deadline.Expired)
        {
            return $"guest agent of {id} did not answer within {TimeParameter.FormatDuration(timeout)} (guest hung?)";
        }
    }

    private bool WantsUtilization =>
        ctx.Get(AutosetCpu) || ctx.Get(AutosetHostMemory) || ctx.Get(AutosetHvMemory) ||
        ctx.Get(UnsetCpu) || ctx.Get(UnsetHostMemory) || ctx.Get(UnsetHvMemory);

    /// <summary>Keeps the utilization attributes in step with the guest, writing only what changed:
    /// the values last written are cached on this node, so a steady guest costs no CIB traffic
    /// (the anchor agent ran up to six crm_resource calls on every monitor).</summary>
    private void UpdateUtilization(GuestState state)
    {
        var memoryMiB = (state.MaxMemoryKiB / 1024).ToString();
        foreach (var (attribute, set, unset, value) in new[]
                 {
                     ("cpu", AutosetCpu, UnsetCpu, state.VirtCpus.ToString()),
                     ("host_memory", AutosetHostMemory, UnsetHostMemory, memoryMiB),
                     ("hv_memory", AutosetHvMemory, UnsetHvMemory, memoryMiB),
                 })
        {
            var wanted = ctx.Get(set) ? value : ctx.Get(unset) ? "" : null;
            if (wanted is null || _state["utilization." + attribute] == wanted) continue;
            try
            {
                if (wanted.Length > 0) ctx.Cluster.SetUtilization(attribute, wanted);
                else ctx.Cluster.RemoveUtilization(attribute);
                _state.Update(("utilization." + attribute, wanted));
            }
            catch (ClusterUnavailableException e) { ctx.Log.LogDebug("utilization {Attribute} not updated: {Reason}", attribute, e.Reason); }
            catch (OperationException e) { ctx.Log.LogWarning("utilization {Attribute} not updated: {Reason}", attribute, e.Reason); }
        }
    }

    // ---- validate-all ----------------------------------------------------------------------------

    public OcfResult ValidateHost()
    {
        if (LoadConfig(ConfigReadDeadline()) is not { } config) return _configProblem;
        foreach (var (needed, tool) in RequiredTools())
            if (needed && Command.Find(tool) is null) return OcfResult.Installed($"{tool} is needed but not installed");
        foreach (var script in MonitorScriptList())
            if (Command.Find(script) is null) return OcfResult.Args($"monitor script {script} is not an executable here");
        if (!System.Runtime.InteropServices.NativeLibrary.TryLoad("libvirt.so.0", out _))
            return OcfResult.Installed("libvirt (libvirt.so.0) is not installed");
        return DiskLeaseCheck(config);
    }

    private IEnumerable<(bool, string)> RequiredTools() =>
    [
        (ctx.Get(SyncConfigOnStop), "csync2"),
        (ctx.IsSet(BackingFile), "qemu-img"),
        (ctx.IsSet(CopyInDirs), "virt-copy-in"),
    ];

    /// <summary>Reports whether libvirt's lock manager protects the guest's writable disks against
    /// a second start on another host; with require_disk_leases, unprotected disks refuse the start.
    /// libvirt's configuration is local (/etc/libvirt); the mount table says where leases live.</summary>
    private OcfResult DiskLeaseCheck(DomainConfig config)
    {
        var mounts = MountTable.Read();
        var leases = DiskLeases.Assess(config,
            name => File.Exists(Path.Combine(LibvirtConfigDirectory, name)) ? File.ReadAllText(Path.Combine(LibvirtConfigDirectory, name)) : null,
            path => MountTable.Containing(mounts, MountPath.Canonical(path))?.FsType);
        if (leases.Unprotected.Count == 0)
        {
            if (leases.Protected.Count > 0) ctx.Log.LogInformation("disk leases protect {Domain}: {How}", config.Name, leases.How);
            return OcfResult.Success;
        }
        var unprotected = $"{config.Name}: writable disks not protected by a disk lease: {string.Join(", ", leases.Unprotected)} ({leases.How})";
        if (ctx.Get(RequireDiskLeases)) return OcfResult.Installed(unprotected);
        ctx.Log.LogInformation("{Unprotected}", unprotected);
        return OcfResult.Success;
    }

    private const string LibvirtConfigDirectory = "/etc/libvirt";
}
