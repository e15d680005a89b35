namespace KvmOcf.Drbd;

/// <summary>One DRBD resource as the kernel reports it right now: its role, its volumes (local
/// disks) and its connections to peers with their volumes (peer disks). Every reader — events2 on
/// DRBD 8.4 and 9, status in JSON on DRBD 9, /proc/drbd — produces this, and every decision (the
/// agent's answer and promotion score, the fence-peer handler's exit code) is taken from it.</summary>
public sealed record ResourceStatus(string Name, string Role, IReadOnlyList<Volume> Volumes, IReadOnlyList<Connection> Connections)
{
    public bool IsPrimary => Role == Roles.Primary;
    /// <summary>Configured: the kernel knows the resource in a role (Primary or Secondary).</summary>
    public bool IsConfigured => Role is Roles.Primary or Roles.Secondary;

    /// <summary>What the anchor's promotion score and the fence-peer handler's decisions read,
    /// worked out once (see <see cref="StatusSummary"/>).</summary>
    public StatusSummary Summary => StatusSummary.Of(this);

    public override string ToString() =>
        $"{Name}: {Role}, disk {string.Join('/', Volumes.Select(v => v.Client ? "DisklessClient" : v.Disk))}" +
        string.Concat(Connections.Select(c => $", peer {(c.PeerName.Length > 0 ? c.PeerName : c.PeerNodeId?.ToString() ?? "?")} " +
            $"{c.State} {c.PeerRole} {string.Join('/', c.PeerVolumes.Select(p => p.PeerClient ? "DisklessClient" : p.PeerDisk))}"));
}

/// <summary>A local volume: its minor (/dev/drbdN), disk state, whether it is an intentionally
/// diskless client (DRBD 9) and whether it has quorum (DRBD 9; always true on 8.4).</summary>
public sealed record Volume(int Number, int Minor, string Disk, bool Client = false, bool Quorum = true);

/// <summary>A connection to a peer (DRBD 9: one per peer; 8.4: the one peer).</summary>
public sealed record Connection(int? PeerNodeId, string PeerName, string State, string PeerRole, IReadOnlyList<PeerVolume> PeerVolumes)
{
    public bool IsConnected => State is ConnectionStates.Connected || ConnectionStates.IsConnected84(State);
}

/// <summary>A volume as seen on a peer: its replication state and disk state, whether it is a
/// diskless client, and how far a resync is (percent, when one runs).</summary>
public sealed record PeerVolume(int Number, string Replication, string PeerDisk, bool PeerClient = false, double? Done = null);

public static class Roles
{
    public const string Primary = "Primary", Secondary = "Secondary", Unknown = "Unknown", Unconfigured = "Unconfigured";
}

/// <summary>DRBD's disk states, and the classes the decisions need.</summary>
public static class DiskStates
{
    public const string UpToDate = "UpToDate", Consistent = "Consistent", Outdated = "Outdated", Inconsistent = "Inconsistent",
        Diskless = "Diskless", Failed = "Failed", Attaching = "Attaching", Detaching = "Detaching", Negotiating = "Negotiating",
        DUnknown = "DUnknown";

    /// <summary>No usable data here: promotion would be refused by DRBD itself.</summary>
    public static bool IsUnusable(string disk) => disk is Diskless or Failed or Inconsistent or Outdated or Detaching;

    /// <summary>Between two states (DRBD is working it out): leave the promotion score alone.</summary>
    public static bool IsTransitional(string disk) => disk is Attaching or Negotiating;

    /// <summary>Known to be worse than Consistent (a peer disk the fence-peer handler need not fence).</summary>
    public static bool IsOutdatedOrWorse(string disk) => disk is Outdated or Inconsistent or Failed or Diskless;
}

public static class ConnectionStates
{
    public const string Connected = "Connected", StandAlone = "StandAlone";

    /// <summary>DRBD 8.4 reports the replication state as the connection state (SyncSource, …):
    /// every state from Connected on means connected.</summary>
    public static bool IsConnected84(string state) => state is "Connected" or "StartingSyncS" or "StartingSyncT" or "WFBitMapS"
        or "WFBitMapT" or "WFSyncUUID" or "SyncSource" or "SyncTarget" or "VerifyS" or "VerifyT" or "PausedSyncS" or "PausedSyncT"
        or "Ahead" or "Behind";
}

/// <summary>The state as the anchor's status variables name it (drbd.shellfuncs.sh,
/// <c>drbd_set_status_variables</c>), worked out the way its DRBD 9 branch does for any number of
/// peers; for the single peer of DRBD 8.4 that is what its sh-status branch gives.</summary>
public sealed record StatusSummary
{
    public bool Primary { get; init; }
    public bool Unconfigured { get; init; }
    public bool SomePeerPrimary { get; init; }
    /// <summary>Every local volume is an intentionally diskless client (DRBD 9).</summary>
    public bool DisklessClient { get; init; }
    public bool HaveQuorum { get; init; } = true;
    public bool DiskAllUpToDate { get; init; }
    /// <summary>No local volume is Diskless, Failed, Inconsistent, Outdated or Detaching.</summary>
    public bool DiskAllConsistent { get; init; }
    public bool DiskTransitional { get; init; }
    /// <summary>At least one peer has every volume UpToDate, and no peer has any volume not UpToDate
    /// (diskless-client peers aside).</summary>
    public bool PeerDisksAllUpToDate { get; init; }
    /// <summary>Some peer volume's disk state is unknown (DUnknown: not connected).</summary>
    public bool PeerDiskAnyUnknown { get; init; }
    /// <summary>Some (non-client) peer has every volume UpToDate.</summary>
    public bool SomePeerAllUpToDate { get; init; }

    public static StatusSummary Of(ResourceStatus s)
    {
        if (!s.IsConfigured) return new StatusSummary { Unconfigured = true };
        var volumes = s.Volumes.Where(v => !v.Client).ToList();
        bool allClient = s.Volumes.Count > 0 && volumes.Count == 0;
        bool allUpToDate = !allClient && volumes.Count > 0 && volumes.All(v => v.Disk == DiskStates.UpToDate);
        bool allConsistent = !allClient && volumes.Count > 0 && !volumes.Any(v => DiskStates.IsUnusable(v.Disk));
        bool transitional = volumes.Any(v => DiskStates.IsTransitional(v.Disk));

        int n = s.Volumes.Count;
        bool someAll = false, someNotAll = false, anyUnknown = false;
        foreach (var c in s.Connections)
        {
            // a peer that is a diskless client on every volume has no data to compare
            if (n > 0 && c.PeerVolumes.Count(p => p.PeerClient) == n) continue;
            int upToDate = c.PeerVolumes.Count(p => p.PeerDisk == DiskStates.UpToDate && !p.PeerClient);
            int known = c.PeerVolumes.Count(p => p.PeerDisk != DiskStates.DUnknown);
            if (n > 0 && upToDate == n) someAll = true; else someNotAll = true;
            if (known < n) anyUnknown = true;
        }
        return new StatusSummary
        {
            Primary = s.IsPrimary,
            SomePeerPrimary = s.Connections.Any(c => c.PeerRole == Roles.Primary),
            DisklessClient = allClient,
            HaveQuorum = s.Volumes.All(v => v.Quorum),
            DiskAllUpToDate = allUpToDate,
            DiskAllConsistent = allConsistent,
            DiskTransitional = transitional,
            SomePeerAllUpToDate = someAll,
            PeerDisksAllUpToDate = someAll && !someNotAll,
            PeerDiskAnyUnknown = anyUnknown,
        };
    }
}
