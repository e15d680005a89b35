using KvmOcf.Libvirt;
using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;
using static KvmOcf.VirtualDomain.VirtualDomainAgent;

namespace KvmOcf.VirtualDomain;

/// <summary>start, stop and migrate_from.</summary>
internal sealed partial class Guest
{
    public OcfResult Start()
    {
        if (ValidateHost() is { IsSuccess: false } invalid) return invalid;
        var config = _config!;
        if (ctx.IsSet(DomainName) && !DomainId.Parse(ctx.Get(DomainName)).Matches(config.Name, config.Uuid))
            return OcfResult.Configured($"domain '{ctx.Get(DomainName)}' is not the domain in {ctx.Get(Config)} ('{config.Name}')");
        var id = config.Id;

        var status = CurrentStatus(id, withInfo: false, ctx.Deadline);
        if (status.Verdict == Verdict.Running)
        {
            ctx.Log.LogInformation("Virtual domain {Domain} already running.", id);
            return OcfResult.Success;
        }
        // Unknown is not stopped: starting now could run the guest twice.
        if (status.Verdict == Verdict.Failed && status.State?.State != DomainState.Crashed) return OcfResult.Generic(status.Why);

        SystemdDropIns.Ensure(ctx);
        using var hypervisor = Hypervisor.Connect(Uri, ctx.Deadline);
        if (status.State?.State == DomainState.Crashed)
        {
            using var crashed = hypervisor.Lookup(id, ctx.Deadline);
            crashed?.Destroy(0, ctx.Deadline);
        }

        if (SnapshotFile(id) is { } snapshot && StorageFile.Exists(snapshot, ctx.Deadline, ctx.Log))
        {
            ctx.Log.LogInformation("restoring {Domain} from {File}", id, snapshot);
            try { hypervisor.Restore(snapshot, ctx.Deadline); }
            catch (LibvirtException e) { return OcfResult.Generic($"Failed to restore {id} from state file in {ctx.Get(Snapshot)} directory: {e.Reason}"); }
            StorageFile.Delete(snapshot, ctx.Deadline, ctx.Log);
            return WaitUntilRunning(id, "restore");
        }

        VerifyUndefined(hypervisor, id);
        if (ctx.Get(StartResources)) StartPoolsAndNetworks(hypervisor, config);

        try
        {
            if (!ctx.IsSet(BackingFile))
            {
                using var _ = hypervisor.CreateXml(_configXml, id, ctx.Deadline);
            }
            else
            {
                bool created = PrepareOverlay(config);
                using var defined = hypervisor.DefineXml(_configXml, id, ctx.Deadline);
                if (ctx.IsSet(CopyInDirs) && created)
                    ctx.Run(new Command("virt-copy-in").WithArguments(["-c", Uri, "-d", config.Name, .. CopyInDirectories, "/"]))
                        .ThrowIfFailed($"Failed on virt-copy-in command {config.Name}.");
                defined.Start(ctx.Deadline);
            }
        }
        catch (LibvirtException e) when (LockedDisk(e.Reason) is { } disk)
        {
            return OcfResult.Generic($"{id} was not started: {(disk.Length > 0 ? $"its disk {disk}" : "a disk of it")} is locked, in use by another host or process ({e.Reason})");
        }
        return WaitUntilRunning(id, "start");
    }

    /// <summary>The disk a refused start names as locked by someone else — QEMU's own image lock
    /// ("Failed to get "write" lock … Is another process using the image [PATH]?") or a lease of
    /// libvirt's lock manager ("resource busy: Lockspace resource 'PATH' is locked"), "" when it does
    /// not say which — or null. The
    /// point of a 128-byte exit reason is to say this first.</summary>
    internal static string? LockedDisk(string reason)
    {
        foreach (var (marker, open, close) in new[] { ("using the image [", "[", "]"), ("Lockspace resource '", "'", "'") })
        {
            int at = reason.IndexOf(marker, StringComparison.Ordinal);
            if (at < 0) continue;
            int start = at + marker.Length, end = reason.IndexOf(close, start, StringComparison.Ordinal);
            return end > start ? reason[start..end] : "";
        }
        return reason.Contains("Failed to get \"write\" lock", StringComparison.Ordinal) ? "" : null;
    }

    public OcfResult MigrateFrom()
    {
        var id = Identity();
        var result = WaitUntilRunning(id, "migration");
        if (result.IsSuccess)
        {
            ctx.Log.LogInformation("{Domain}: live migration from {Source} succeeded.", id, ctx.Meta.MigrateSource ?? "?");
            SystemdDropIns.Ensure(ctx);
            if (SaveConfigEnabled) SaveConfig(id, null, ctx.Deadline.Remaining);
        }
        return result;
    }

    public OcfResult Stop()
    {
        var id = Identity();
        var status = CurrentStatus(id, withInfo: false, ctx.Deadline);
        if (status.Verdict == Verdict.Stopped)
        {
            ctx.Log.LogInformation("Domain {Domain} already stopped ({Why}).", id, status.Why);
            return OcfResult.Success;
        }
        // libvirtd unreachable, or qemu running without libvirt knowing: stop cannot stop it and must say so.
        if (status.State is null) return OcfResult.Generic($"cannot stop {id}: {status.Why}");

        using var hypervisor = Hypervisor.Connect(Uri, ctx.Deadline);
        using var domain = hypervisor.Lookup(id, ctx.Deadline);
        if (domain is null) return VerifyStopped(id);

        bool graceful = !ctx.Get(ForceStop) && status.State.State != DomainState.Paused;
        if (status.State.State == DomainState.Paused) ctx.Log.LogInformation("{Domain} is paused: it cannot shut down by itself; destroying it", id);
        // Whatever the graceful part meets (a config store or snapshot directory that hangs, a guest
        // that ignores ACPI), destroy_timeout is kept for the forced stop.
        var gracefulDeadline = ctx.Deadline.Reserve(ctx.Get(DestroyTimeout));
        if (graceful && SnapshotFile(id) is { } snapshot)
        {
            try
            {
                domain.Save(snapshot, gracefulDeadline);
                if (WaitUntilStopped(id, gracefulDeadline)) return VerifyStopped(id);
            }
            catch (OperationException e)
            {
                ctx.Log.LogError("Failed to save snapshot state of {Domain} on stop: {Reason}", id, e.Reason);
                AbortJob(domain);
            }
        }
        if (SaveConfigEnabled) SaveConfig(id, domain, gracefulDeadline.Remaining / 2);

        if (graceful && !gracefulDeadline.Expired)
        {
            ctx.Log.LogInformation("Issuing graceful shutdown request for domain {Domain}.", id);
            bool requested = true;
            try { domain.Shutdown(ShutdownModes.Flags(ctx.Get(ShutdownMode), out _) ?? 0, gracefulDeadline); }
            catch (LibvirtException e) when (e.ErrorCode is LibvirtNative.ERR_NO_DOMAIN or LibvirtNative.ERR_OPERATION_INVALID) { } // gone while asked
            catch (OperationException e)
            {
                ctx.Log.LogWarning("graceful shutdown of {Domain} failed: {Reason}", id, e.Reason);
                requested = false;
            }
            if (requested && WaitUntilStopped(id, gracefulDeadline)) return VerifyStopped(id);
            if (requested) ctx.Log.LogWarning("{Domain} did not shut down in time; forcing it", id);
        }

        ctx.Log.LogInformation("Issuing forced shutdown (destroy) request for domain {Domain}.", id);
        try { domain.Destroy(0, ctx.Deadline); }
        catch (LibvirtException e) when (e.ErrorCode is LibvirtNative.ERR_OPERATION_INVALID or LibvirtNative.ERR_NO_DOMAIN) { }
        WaitUntilStopped(id, ctx.Deadline);
        return VerifyStopped(id);
    }

    /// <summary>A save that did not finish holds the domain's job; destroy needs it released.</summary>
    private void AbortJob(Domain domain)
    {
        try { domain.AbortJob(ctx.Deadline.AtMost(TimeSpan.FromSeconds(5))); }
        catch (OperationException e) { ctx.Log.LogDebug("aborting the job of {Domain}: {Reason}", domain.Id, e.Reason); }
    }

    /// <summary>Success only when libvirt and the process table both say the guest is gone.</summary>
    private OcfResult VerifyStopped(DomainId id)
    {
        var status = CurrentStatus(id, withInfo: false, ctx.Deadline);
        return status.Verdict == Verdict.Stopped ? OcfResult.Success : OcfResult.Generic($"{id} is still running after stop: {status.Why}");
    }

    private bool WaitUntilStopped(DomainId id, Deadline deadline) =>
        deadline.WaitUntil(() => CurrentStatus(id, withInfo: false, deadline).Verdict == Verdict.Stopped, PollInterval);

    /// <summary>Start and migrate_from finish when the guest runs and its monitor scripts pass.</summary>
    private OcfResult WaitUntilRunning(DomainId id, string what)
    {
        string last = "";
        bool running = ctx.Deadline.WaitUntil(() =>
        {
            var status = CurrentStatus(id, withInfo: false, ctx.Deadline);
            last = status.Why;
            if (status.Verdict != Verdict.Running) return false;
            last = RunMonitorScripts(id) ?? "";
            return last.Length == 0;
        }, PollInterval);
        if (!running) return OcfResult.Generic($"{id} is not running after {what} ({last})");
        _state.Update(("started", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString()));
        return OcfResult.Success;
    }

    /// <summary>A persistent, inactive definition of the domain would make this start define it
    /// twice; remove it (keeping NVRAM, and the config file should libvirt delete it).</summary>
    private void VerifyUndefined(Hypervisor hypervisor, DomainId id)
    {
        using var existing = hypervisor.Lookup(id, ctx.Deadline);
        if (existing is null || !existing.IsPersistent(ctx.Deadline)) return;
        try { existing.Undefine(LibvirtNative.UNDEFINE_KEEP_NVRAM, ctx.Deadline); }
        catch (LibvirtException e) { ctx.Log.LogWarning("could not undefine the inactive definition of {Domain}: {Reason}", id, e.Reason); }
        var path = ctx.Get(Config);
        if (!StorageFile.Exists(path, ctx.Deadline, ctx.Log)) StorageFile.WriteAtomically(path, _configXml, ctx.Deadline, ctx.Log);
    }

    private void StartPoolsAndNetworks(Hypervisor hypervisor, DomainConfig config)
    {
        foreach (var pool in config.Pools)
        {
            try { hypervisor.EnsurePoolActive(pool, ctx.Deadline); }
            catch (LibvirtException e) { throw new OcfException(OcfExitCode.ErrGeneric, $"Failed to start required virtual storage pool {pool}: {e.Reason}"); }
        }
        foreach (var network in config.Networks)
        {
            try { hypervisor.EnsureNetworkActive(network, ctx.Deadline); }
            catch (LibvirtException e) { throw new OcfException(OcfExitCode.ErrGeneric, $"Failed to start required virtual network {network}: {e.Reason}"); }
        }
    }

    private IEnumerable<string> CopyInDirectories => ctx.Get(CopyInDirs).Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>backingfile: the guest runs on a qcow2 overlay next to its config
    /// (<c>vm1.xml</c> → <c>vm1.qcow2</c>), re-created at every start when stateless. True when it
    /// was created now.</summary>
    private bool PrepareOverlay(DomainConfig config)
    {
        var overlay = Path.ChangeExtension(ctx.Get(Config), ".qcow2");
        if (StorageFile.Size(overlay, ctx.Deadline, ctx.Log) > 0 && !ctx.Get(Stateless)) return false;
        var backing = ctx.Get(BackingFile);
        var info = ctx.Run(new Command("qemu-img").WithArguments("info", "--output=json", "--", backing)).ThrowIfFailed($"reading {backing}");
        var format = JsonString(info.StandardOutput, "format");
        ctx.Run(new Command("qemu-img").WithArguments("create", "-f", "qcow2", "-F", format.Length > 0 ? format : "raw", "-b", backing, "--", overlay))
            .ThrowIfFailed($"Failed qemu-img create {config.Name} with backing file {backing}.");
        return true;
    }

    /// <summary>A top-level string member of qemu-img's JSON ("format": "qcow2"), or "".</summary>
    private static string JsonString(string json, string member)
    {
        int key = json.IndexOf($"\"{member}\"", StringComparison.Ordinal);
        if (key < 0) return "";
        int open = json.IndexOf('"', json.IndexOf(':', key) + 1);
        int close = open < 0 ? -1 : json.IndexOf('"', open + 1);
        return close > open ? json[(open + 1)..close] : "";
    }

    private string? SnapshotFile(DomainId id) =>
        ctx.IsSet(Snapshot) ? Path.Combine(ctx.Get(Snapshot), $"{id.Name ?? _state["name"] ?? id.Uuid}.state") : null;

    private bool SaveConfigEnabled => ctx.Get(SaveConfigOnStop) || ctx.Get(SyncConfigOnStop);

    /// <summary>Writes the running domain's definition back to the config file — atomically, mode
    /// 0600 (it carries the secure XML), only when it changed and only when it names this domain —
    /// and csync2s it if asked. Bounded by <paramref name="budget"/>; a failure is logged, never
    /// fatal: the guest's own lifecycle matters more than its saved definition.</summary>
    private void SaveConfig(DomainId id, Domain? domain, TimeSpan budget)
    {
        var path = ctx.Get(Config);
        var deadline = ctx.Deadline.AtMost(budget);
        try
        {
            string xml;
            if (domain is not null) xml = domain.XmlDescription(LibvirtNative.DOMAIN_XML_INACTIVE | LibvirtNative.DOMAIN_XML_SECURE, deadline);
            else
            {
                using var hypervisor = Hypervisor.Connect(Uri, deadline);
                using var found = hypervisor.Lookup(id, deadline) ?? throw new OcfException(OcfExitCode.ErrGeneric, $"{id} is not defined");
                xml = found.XmlDescription(LibvirtNative.DOMAIN_XML_INACTIVE | LibvirtNative.DOMAIN_XML_SECURE, deadline);
            }
            if (xml.Length == 0) { ctx.Log.LogWarning("Domain {Domain} config has 0 size. Skipping config update.", id); return; }
            if (!DomainConfig.Parse(xml).Id.Matches(id.Name ?? _state["name"], id.Uuid))
            {
                ctx.Log.LogWarning("Domain {Domain} config dump names another domain. Skipping config update.", id);
                return;
            }
            if (_config is not null && _configXml == xml) return;
            StorageFile.WriteAtomically(path, xml, deadline, ctx.Log);
            ctx.Log.LogInformation("Saved domain {Domain} config to {Path}.", id, path);
            if (ctx.Get(SyncConfigOnStop))
            {
                var sync = ctx.Run(new Command("csync2").WithArguments("-x", path), deadline.Remaining);
                if (!sync.Succeeded) ctx.Log.LogWarning("Syncing {Path} failed: {Why}", path, sync.Summary);
            }
        }
        catch (Exception e) when (e is OperationException or IOException or FormatException)
        {
            ctx.Log.LogWarning("Saving the config of {Domain} failed: {Why}", id, e.Message);
        }
    }
}
