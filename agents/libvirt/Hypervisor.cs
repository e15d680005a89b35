using System.Runtime.InteropServices;

namespace KvmOcf.Libvirt;

/// <summary>A connection to a libvirt daemon through libvirt.so.0, every call bounded: each runs on
/// a worker thread and the caller stops waiting at the deadline (a hung libvirtd must give an
/// error before pacemaker's timeout, not a hang; the stuck thread dies with the process).
/// libvirt's error is read on the worker, where libvirt keeps it (thread-local).</summary>
public sealed unsafe class Hypervisor : IDisposable
{
    private static bool _errorsSilenced;
    /// <summary>A call has already gone unanswered: closing would wait for that daemon too.</summary>
    private static bool _unresponsive;
    private nint _conn;

    private Hypervisor(string uri, nint conn) { Uri = uri; _conn = conn; }

    public string Uri { get; }

    public static Hypervisor Connect(string uri, Deadline deadline)
    {
        try
        {
            var conn = Bounded($"connecting to {uri}", deadline, () =>
            {
                SilenceErrors();
                return Check(LibvirtNative.ConnectOpen(uri), $"cannot connect to {uri}");
            });
            return new Hypervisor(uri, conn);
        }
        catch (LibvirtException e) { throw new PeerUnreachableException(e.Reason); }
    }

    /// <summary>Runs a libvirt call bounded by the deadline: a daemon that does not answer in time is unreachable.</summary>
    public static T Bounded<T>(string what, Deadline deadline, Func<T> call)
    {
        try { return deadline.Run(what, call); }
        catch (DeadlineExceededException)
        {
            _unresponsive = true;
            throw new PeerUnreachableException($"libvirt did not answer {what} in time (libvirtd hung?)");
        }
        catch (DllNotFoundException) { throw new OperationException(FailureKind.NotFound, "libvirt (libvirt.so.0) is not installed"); }
    }

    private static void SilenceErrors()
    {
        // libvirt prints every error to stderr unless an error function is set; we report them ourselves.
        if (_errorsSilenced) return;
        LibvirtNative.SetErrorFunc(0, &IgnoreError);
        _errorsSilenced = true;
    }

    [UnmanagedCallersOnly]
    private static void IgnoreError(nint userData, LibvirtNative.Error* error) { }

    /// <summary>On the worker thread: a zero handle or negative status means failure; libvirt's last error says why.</summary>
    internal static nint Check(nint handle, string what) => handle != 0 ? handle : throw LastError(what);
    internal static int Check(int status, string what) => status >= 0 ? status : throw LastError(what);

    private static LibvirtException LastError(string what)
    {
        var error = LibvirtNative.GetLastError();
        if (error is null) return new LibvirtException(what, 0, "unknown libvirt error");
        return new LibvirtException(what, error->Code, LibvirtNative.PeekString(error->Message) ?? $"libvirt error {error->Code}");
    }

    /// <summary>The domain, or null when libvirt does not know it (VIR_ERR_NO_DOMAIN).</summary>
    public Domain? Lookup(DomainId id, Deadline deadline) => Bounded<Domain?>($"looking up domain {id}", deadline, () =>
    {
        var handle = id.Name is { } name ? LibvirtNative.DomainLookupByName(_conn, name) : LibvirtNative.DomainLookupByUuid(_conn, id.Uuid!);
        if (handle != 0) return new Domain(this, handle, id);
        var e = LastError($"looking up domain {id}");
        return e.ErrorCode == LibvirtNative.ERR_NO_DOMAIN ? null : throw e;
    });

    /// <summary>Every domain this hypervisor knows, running or not: name, UUID and state.</summary>
    public List<(string Name, string Uuid, DomainState State)> ListDomains(Deadline deadline) => Bounded("listing domains", deadline, () =>
    {
        nint* handles;
        int count = Check(LibvirtNative.ConnectListAllDomains(_conn, &handles, 0), "listing domains");
        var domains = new List<(string, string, DomainState)>(count);
        byte* uuid = stackalloc byte[37];
        try
        {
            for (int i = 0; i < count; i++)
            {
                int state, reason;
                var name = LibvirtNative.PeekString(LibvirtNative.DomainGetName(handles[i])) ?? "?";
                var id = LibvirtNative.DomainGetUuidString(handles[i], uuid) == 0 ? LibvirtNative.PeekString(uuid) ?? "" : "";
                domains.Add((name, id, LibvirtNative.DomainGetState(handles[i], &state, &reason, 0) == 0 ? (DomainState)state : DomainState.NoState));
            }
        }
        finally
        {
            for (int i = 0; i < count; i++) LibvirtNative.DomainFree(handles[i]);
            LibvirtNative.Free(handles);
        }
        return domains;
    });

    /// <summary>Starts a transient domain from XML.</summary>
    public Domain CreateXml(string xml, DomainId id, Deadline deadline) =>
        new(this, Bounded($"starting domain {id}", deadline, () => Check(LibvirtNative.DomainCreateXml(_conn, xml, 0), $"starting domain {id}")), id);

    public Domain DefineXml(string xml, DomainId id, Deadline deadline) =>
        new(this, Bounded($"defining domain {id}", deadline, () => Check(LibvirtNative.DomainDefineXml(_conn, xml), $"defining domain {id}")), id);

    public void Restore(string file, Deadline deadline) =>
        Bounded($"restoring {file}", deadline, () => Check(LibvirtNative.DomainRestoreFlags(_conn, file, null, 0), $"restoring {file}"));

    /// <summary>Starts the storage pool if it is defined and inactive.</summary>
    public void EnsurePoolActive(string name, Deadline deadline) => Bounded($"starting storage pool {name}", deadline, () =>
    {
        var pool = Check(LibvirtNative.StoragePoolLookupByName(_conn, name), $"finding storage pool {name}");
        try
        {
            if (Check(LibvirtNative.StoragePoolIsActive(pool), $"checking storage pool {name}") == 0)
                Check(LibvirtNative.StoragePoolCreate(pool, 0), $"starting storage pool {name}");
            else
                Check(LibvirtNative.StoragePoolRefresh(pool, 0), $"refreshing storage pool {name}");
        }
        finally { LibvirtNative.StoragePoolFree(pool); }
        return 0;
    });

    public void EnsureNetworkActive(string name, Deadline deadline) => Bounded($"starting network {name}", deadline, () =>
    {
        var net = Check(LibvirtNative.NetworkLookupByName(_conn, name), $"finding network {name}");
        try
        {
            if (Check(LibvirtNative.NetworkIsActive(net), $"checking network {name}") == 0)
                Check(LibvirtNative.NetworkCreate(net), $"starting network {name}");
        }
        finally { LibvirtNative.NetworkFree(net); }
        return 0;
    });

    /// <summary>Whether <paramref name="file"/> exists on this hypervisor's host. libvirt has no
    /// "stat": a storage pool over the file's directory is asked for it as a volume. libvirt refuses
    /// a second pool on a path, so a pool already there is used (refreshed first; an inactive one
    /// started for the check and stopped again); else a transient pool is created for the check and
    /// destroyed. Transient pools a check could not destroy (it ran out of time) are removed by the
    /// next check. False when the directory or the file is missing there.</summary>
    public bool FileExists(string file, Deadline deadline) => Bounded($"checking {file} on {Uri}", deadline, () =>
    {
        var directory = Path.GetDirectoryName(file)!;
        var pools = ListPools();
        try
        {
            foreach (var (pool, name, path, active) in pools)
                if (name.StartsWith(CheckPoolPrefix, StringComparison.Ordinal) && active && IsStale(name)) LibvirtNative.StoragePoolDestroy(pool);
            if (pools.FirstOrDefault(p => p.Path is { } path && Path.TrimEndingDirectorySeparator(path) == directory) is { Pool: not 0 } existing)
            {
                if (existing.Active)
                {
                    Check(LibvirtNative.StoragePoolRefresh(existing.Pool, 0), $"refreshing storage pool {existing.Name}");
                    return HasVolume(existing.Pool, Path.GetFileName(file));
                }
                if (LibvirtNative.StoragePoolCreate(existing.Pool, 0) < 0) return false;
                try { return HasVolume(existing.Pool, Path.GetFileName(file)); }
                finally { LibvirtNative.StoragePoolDestroy(existing.Pool); }
            }
        }
        finally { foreach (var p in pools) LibvirtNative.StoragePoolFree(p.Pool); }

        var poolName = $"{CheckPoolPrefix}{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}-{Environment.ProcessId}";
        var xml = $"<pool type='dir'><name>{Xml.Escape(poolName)}</name><target><path>{Xml.Escape(directory)}</path></target></pool>";
        var transient = LibvirtNative.StoragePoolCreateXml(_conn, xml, 0);
        if (transient == 0) return false;
        try { return HasVolume(transient, Path.GetFileName(file)); }
        finally
        {
            LibvirtNative.StoragePoolDestroy(transient);
            LibvirtNative.StoragePoolFree(transient);
        }
    });

    private const string CheckPoolPrefix = "kvmocf-check-";

    /// <summary>A check pool older than any check could take (its name carries its creation time).</summary>
    private static bool IsStale(string name) =>
        long.TryParse(name[CheckPoolPrefix.Length..].Split('-')[0], out var created) &&
        DateTimeOffset.UtcNow.ToUnixTimeSeconds() - created > 600;

    private static bool HasVolume(nint pool, string name)
    {
        var volume = LibvirtNative.StorageVolLookupByName(pool, name);
        if (volume == 0) return false;
        LibvirtNative.StorageVolFree(volume);
        return true;
    }

    /// <summary>Every storage pool with its name, target path (null for pools without one) and
    /// whether it is active; the caller frees the handles.</summary>
    private List<(nint Pool, string Name, string? Path, bool Active)> ListPools()
    {
        nint* handles;
        int count = Check(LibvirtNative.ConnectListAllStoragePools(_conn, &handles, 0), "listing storage pools");
        var pools = new List<(nint, string, string?, bool)>(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
                var name = LibvirtNative.PeekString(LibvirtNative.StoragePoolGetName(handles[i])) ?? "";
                string? path = null;
                try { path = Xml.Parse(LibvirtNative.TakeString(LibvirtNative.StoragePoolGetXmlDesc(handles[i], 0)) ?? "").Element("target")?.Element("path")?.Text.Trim(); }
                catch (FormatException) { }
                pools.Add((handles[i], name, path, LibvirtNative.StoragePoolIsActive(handles[i]) == 1));
            }
        }
        finally { LibvirtNative.Free(handles); }
        return pools;
    }

    internal nint Handle => _conn;

    public void Dispose()
    {
        var conn = Interlocked.Exchange(ref _conn, 0);
        // Closing waits for the daemon too: not at all for one that has not answered, and briefly
        // otherwise (the process exit closes the socket anyway).
        if (conn != 0 && !_unresponsive)
            try { Bounded("closing the connection", Deadline.After(TimeSpan.FromMilliseconds(500)), () => LibvirtNative.ConnectClose(conn)); }
            catch (OperationException) { }
    }
}
