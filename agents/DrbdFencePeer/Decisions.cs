namespace KvmOcf.DrbdFencePeer;

/// <summary>DRBD's fence-peer exit codes (crm-fence-peer.9.sh; the kernel's conn_try_outdate_peer).</summary>
internal static class ExitCodes
{
    public const int Failure = 1;
    /// <summary>The peer's disk is already Outdated or worse: nothing to fence.</summary>
    public const int PeerOutdated = 3;
    /// <summary>The peer is fenced: the constraint is placed (or was); DRBD marks its disk Outdated.</summary>
    public const int ConstraintPlaced = 4;
    /// <summary>The peer is unreachable and assumed dead (constraint placed if this node is UpToDate).</summary>
    public const int PeerUnreachable = 5;
    /// <summary>The peer has the better data (its constraint excludes this node): outdate yourself.</summary>
    public const int OutdateYourself = 6;
    /// <summary>The peer was fenced by STONITH (cleanly down) and the constraint is placed.</summary>
    public const int PeerStonithed = 7;
}

/// <summary>How a peer node is, as the CIB (from the DC) and the peer's controller tell.</summary>
internal enum PeerState
{
    /// <summary>Its controller answers (crmadmin --status): alive, only the replication link is down.</summary>
    Reachable,
    /// <summary>Cleanly down (expected down, out of the membership): fenced, or shut down.</summary>
    Fenced,
    /// <summary>Out of the membership or controller offline, not (yet) fenced.</summary>
    Unreachable,
    /// <summary>Still online for the CIB but not answering, at the timeout.</summary>
    Unknown,
    /// <summary>No DC could be reached.</summary>
    DcUnreachable,
    /// <summary>Already excluded by the constraint in place: what's done is done.</summary>
    AlreadyRejected,
}

/// <summary>The local DRBD state the decisions read (from /proc/drbd on 8.4, drbdsetup on 9).</summary>
internal sealed record LocalState(bool Unconfigured, bool Primary, bool DiskAllConsistent, bool DiskAllUpToDate,
    bool PeerDisksAllUpToDate, bool PeerKnownOutdated, string Disks)
{
    public static LocalState Of(Drbd.ResourceStatus s)
    {
        var sum = s.Summary;
        return new LocalState(sum.Unconfigured, sum.Primary, sum.DiskAllConsistent, sum.DiskAllUpToDate, sum.PeerDisksAllUpToDate,
            s.Connections.Count > 0 && s.Connections.All(c => c.PeerVolumes.Count > 0 && c.PeerVolumes.All(p => Drbd.DiskStates.IsOutdatedOrWorse(p.PeerDisk))),
            string.Join('/', s.Volumes.Select(v => v.Disk)));
    }
}

/// <summary>What the handler does and answers.</summary>
internal readonly record struct Outcome(int ExitCode, bool Place, string Message);

/// <summary>The handler's decisions, without any I/O (crm-fence-peer.9.sh's try_place_constraint and
/// drbd_peer_fencing, plus the two answers it documents but never gave: 3 and 6).</summary>
internal static class Decisions
{
    /// <summary>With a constraint of ours already in place: the same one (4, done), one that
    /// excludes this node (the peer fenced us first: 6 on a Secondary, which DRBD then outdates; 1 on a
    /// Primary), or one to restrict further (null: go on and place it).</summary>
    public static Outcome? OnExisting(FencingConstraint? existing, FencingConstraint wanted, bool rejectsMe, bool primary)
    {
        if (existing is null) return null;
        if (existing.Equivalent(wanted)) return new Outcome(ExitCodes.ConstraintPlaced, false, $"suitable constraint already placed: {existing.Id}");
        if (rejectsMe)
            return primary
                ? new Outcome(ExitCodes.Failure, false, $"constraint {existing.Id} already exists and excludes this node, which is Primary: DATA INTEGRITY at RISK")
                : new Outcome(ExitCodes.OutdateYourself, false, $"constraint {existing.Id} already exists and excludes this node: the peer has the better data, outdate yourself");
        return null;
    }

    /// <summary>Whether to place the constraint and what to answer, from quorum, the local disks and
    /// the peers' states.</summary>
    public static Outcome Place(bool haveQuorum, LocalState local, IReadOnlyList<PeerState> peers, bool unreachablePeerIsOutdated)
    {
        bool allReachable = peers.All(p => p is PeerState.Reachable or PeerState.AlreadyRejected);
        bool allFenced = peers.All(p => p is PeerState.Fenced or PeerState.AlreadyRejected);
        if (local.Unconfigured) return new(ExitCodes.Failure, false, "could not determine my disk state: did not place the constraint");
        if (local.PeerDisksAllUpToDate) return new(ExitCodes.Failure, false, "all peer disks are UpToDate: did not place the constraint");
        if (local.PeerKnownOutdated) return new(ExitCodes.PeerOutdated, false, "the peer's disk is already Outdated or worse: nothing to fence");
        if (!haveQuorum) return new(ExitCodes.Failure, false, "no quorum: did not place the constraint");
        if (allReachable && local.DiskAllConsistent)
            return new(ExitCodes.ConstraintPlaced, true, $"peers are reachable, my disk is {local.Disks}: placing the constraint");
        if (allFenced && local.DiskAllUpToDate)
            return new(ExitCodes.PeerStonithed, true, $"peers are (node-level) fenced, my disk is {local.Disks}: placing the constraint");
        if (local.DiskAllUpToDate)
            return new(ExitCodes.PeerUnreachable, true, $"some peer is still UNCLEAN ({string.Join(", ", peers)}), my disk is UpToDate: placing the constraint anyway");
        if (!allReachable && unreachablePeerIsOutdated && local.DiskAllConsistent)
            return new(ExitCodes.PeerUnreachable, true, "peer is unreachable, my disk is only Consistent: --unreachable-peer-is-outdated FORCES the constraint; this MAY RISK DATA INTEGRITY");
        return new(ExitCodes.PeerUnreachable, false, $"some peer is UNCLEAN ({string.Join(", ", peers)}), my disk is {local.Disks}: did not place the constraint");
    }

    /// <summary>--suicide-on-failure-if-primary: a Primary that could not fence its peer asks to be fenced itself.</summary>
    public static bool Suicide(bool requested, int exitCode, bool primary) =>
        requested && primary && exitCode is not (ExitCodes.PeerOutdated or ExitCodes.ConstraintPlaced or ExitCodes.PeerUnreachable or ExitCodes.PeerStonithed);

    /// <summary>What unfencing does (exit code always 0 unless a CIB write fails): nothing without a
    /// constraint of ours; leaves it to its owner with --unfence-only-if-owner-match when it excludes
    /// this node; removes it once this node's and the peers' disks are all UpToDate; on DRBD 9 narrows
    /// it to the nodes now UpToDate (<paramref name="wanted"/>); else leaves it.</summary>
    public static (UnfenceAction Action, string Message) Unfence(FencingConstraint? existing, bool ownerMatchRequired, bool rejectsMe,
        LocalState local, FencingConstraint? wanted)
    {
        if (existing is null) return (UnfenceAction.None, "no constraint in place, nothing to do");
        if (ownerMatchRequired && rejectsMe) return (UnfenceAction.None, $"constraint {existing.Id} excludes this node: its owner removes it; left in place");
        if (local.DiskAllUpToDate && local.PeerDisksAllUpToDate) return (UnfenceAction.Remove, $"all disks UpToDate: removing constraint {existing.Id}");
        if (wanted is not null && !existing.Equivalent(wanted)) return (UnfenceAction.Replace, $"allowing the nodes now UpToDate in constraint {existing.Id}");
        return (UnfenceAction.None, $"not all disks UpToDate ({local.Disks}): constraint {existing.Id} stays");
    }
}

internal enum UnfenceAction { None, Remove, Replace }
