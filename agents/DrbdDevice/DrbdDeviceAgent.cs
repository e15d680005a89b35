using KvmOcf.Drbd;
using KvmOcf.Ocf;

namespace KvmOcf.DrbdDevice;

/// <summary>ocf:kvmocf:DrbdDevice — a DRBD resource as a promotable clone: Secondary where it is
/// started, Primary where pacemaker promotes it, and on every node a promotion score that says how
/// good the local data is (the table of ocf:linbit:drbd). A drop-in for ocf:linbit:drbd: the same
/// parameters with the same names and defaults.</summary>
public sealed class DrbdDeviceAgent : ResourceAgent
{
    /// <summary>Characters the anchor allows in a resource or file name it hands to drbdadm.</summary>
    private static string? SafeName(string name) =>
        name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '%' or '+' or '.' or '/' or ':' or '=' or '@' or '_')
            ? name.StartsWith('-') ? "must not begin with '-'" : null
            : "must only contain letters, digits and -%+./:=@_";

    public static readonly StringParameter Resource = new("drbd_resource")
    {
        Required = true,
        UniqueGroup = "drbd_resource",
        ShortDescription = "drbd resource name",
        LongDescription = "The name of the DRBD resource in the DRBD configuration (drbd.conf and the files it includes).",
        Check = SafeName,
    };

    public static readonly StringParameter ConfigFile = new("drbdconf")
    {
        Default = "/etc/drbd.conf",
        ShortDescription = "Path to drbd.conf",
        LongDescription = "Full path to the drbd.conf file.",
        Check = SafeName,
    };

    public static readonly StringParameter AdjustMasterScore = new("adjust_master_score")
    {
        Default = ScoreValues.DefaultText,
        Reloadable = true,
        ShortDescription = "master score adjustments",
        LongDescription = "Four promotion scores, separated by spaces, each at least the one before: for a node with only " +
            "Consistent data (DRBD knows it is consistent, not whether it is the latest: 0, no promotion, by default); with " +
            "UpToDate data only on a peer; Secondary with UpToDate data here while a peer's disk state is unknown; UpToDate " +
            "data here and Primary, or the peers' disk states known. A diskless client with access to good data gets the " +
            "third or fourth value minus one. Configure fencing both in DRBD (fencing resource-and-stonith with fence-peer " +
            "handlers) and in pacemaker for this to be safe. An invalid value is refused at start (the anchor fell back to " +
            "the default).",
        Check = s => ScoreValues.TryParse(s, out _, out var problem) ? null : problem,
    };

    public static readonly BooleanParameter StopOutdatesSecondary = new("stop_outdates_secondary")
    {
        Reloadable = true,
        ShortDescription = "outdate a secondary on stop",
        LongDescription = "When true, a Secondary that is stopped, or that loses its peer while pacemaker's notification " +
            "says another node is Primary, marks its own data Outdated in DRBD's metadata. This relies on the notification " +
            "variables being right; leave it off and configure fencing policies in DRBD instead.",
    };

    public static readonly BooleanParameter IgnoreMissingNotifications = new("ignore_missing_notifications")
    {
        Reloadable = true,
        ShortDescription = "ignore missing notify=true",
        LongDescription = "Without notifications (the clone's notify=true meta attribute) start refuses to run unless this " +
            "is true: the agent connects to peers and refreshes the promotion score on them.",
    };

    public static readonly StringParameter WfcTimeout = new("wfc_timeout")
    {
        Default = "5",
        Reloadable = true,
        ShortDescription = "wait for connections with timeout",
        LongDescription = "How many seconds start waits for the connection to the peers after bringing them up (bounded by " +
            "the start timeout). Set to the empty string, 0 or any non-digits to not wait at all.",
    };

    public static readonly StringParameter RemoveMasterScoreIfPeerPrimary = new("remove_master_score_if_peer_primary")
    {
        Default = "false",
        Reloadable = true,
        ShortDescription = "remove master score if we are connected to a primary peer",
        LongDescription = "true: remove this node's promotion score while DRBD is connected to a Primary peer whose disks are " +
            "UpToDate (a cluster split-brain must not promote here). unexpected: do so only when pacemaker knows of no " +
            "Primary (crm_resource --locate). false: ignore the peer's role. This may delay a legitimate failover after a " +
            "Primary crashed by the time DRBD takes to notice plus one monitor interval.",
        Check = v => PeerPolicy(v) is null ? "must be true, false or unexpected" : null,
    };

    public static readonly BooleanParameter FailPromoteEarlyIfPeerPrimary = new("fail_promote_early_if_peer_primary")
    {
        Reloadable = true,
        ShortDescription = "try promote only once when connected to a primary peer",
        LongDescription = "When DRBD is still connected to a Primary that pacemaker does not know about, give up promoting " +
            "after the first attempt instead of retrying until the timeout.",
    };

    public static readonly BooleanParameter UnfenceIfAllUpToDate = new("unfence_if_all_uptodate")
    {
        Reloadable = true,
        ShortDescription = "call unfence hook once fully UpToDate",
        LongDescription = "When this node is Primary and every local and peer disk is UpToDate, run the resource's " +
            "unfence-peer handler (drbdadm unfence-peer) in case a stale fencing constraint is left over. The handler gets " +
            "unfence_extra_args in its environment (OCF_RESKEY_unfence_extra_args).",
    };

    public static readonly StringParameter UnfenceExtraArgs = new("unfence_extra_args")
    {
        Default = "--quiet --flock-required --flock-timeout 0 --unfence-only-if-owner-match",
        Reloadable = true,
        ShortDescription = "Extra arguments for the unfence hook.",
        LongDescription = "Extra hints for the unfence hook, see unfence_if_all_uptodate (the anchor declared this a boolean " +
            "by mistake; it is text).",
    };

    public static readonly StringParameter RequireVersionGe = new("require_drbd_module_version_ge")
    {
        Default = "8.0.0",
        Reloadable = true,
        ShortDescription = "Minimum DRBD kernel module version",
        LongDescription = "Refuse to start unless the DRBD kernel module's version is at least this (x.y.z, inclusive), " +
            "e.g. 9.0.16 to require DRBD 9: a clear message after a kernel update downgraded DRBD. Set empty to skip.",
        Check = v => DrbdVersion.TryParse(v, out _) && v.Split('.').Length == 3 ? null : "is not a version x.y.z",
    };

    public static readonly StringParameter RequireVersionLt = new("require_drbd_module_version_lt")
    {
        Default = "10.0.0",
        Reloadable = true,
        ShortDescription = "DRBD kernel module version limit",
        LongDescription = "Refuse to start unless the DRBD kernel module's version is lower than this (x.y.z, exclusive), " +
            "e.g. 9.0.0 to require DRBD 8.4. Set empty to skip.",
        Check = v => DrbdVersion.TryParse(v, out _) && v.Split('.').Length == 3 ? null : "is not a version x.y.z",
    };

    public static readonly BooleanParameter ConnectOnlyAfterPromote = new("connect_only_after_promote")
    {
        ShortDescription = "connect only after promote",
        LongDescription = "Keep this DRBD resource disconnected until it is promoted, then connect (drbdadm adjust). For " +
            "stacked setups without proper fencing on the lower layer; a failover of a healthy DRBD then creates a new " +
            "data generation.",
    };

    internal static PeerPrimaryPolicy? PeerPolicy(string value) => value.Trim().ToLowerInvariant() switch
    {
        "unexpected" => PeerPrimaryPolicy.RemoveIfUnexpected,
        "1" or "true" or "yes" or "on" => PeerPrimaryPolicy.Remove,
        "0" or "false" or "no" or "off" => PeerPrimaryPolicy.Ignore,
        _ => null,
    };

    public override string Name => "DrbdDevice";
    public override string ShortDescription => "Manages a DRBD device as a promotable clone";
    public override string LongDescription =>
        "Manages a DRBD resource (8.4 or 9) as a promotable clone: started, it is Secondary and connects to its peers; " +
        "promoted, Primary. On every node it keeps a promotion score that says how good the data there is (UpToDate here " +
        "and known on the peers: 10000; UpToDate here with a peer unknown: 1000; only on a peer: 10; Consistent: 0; " +
        "Inconsistent, Outdated, Diskless or Failed: no score), written with crm_attribute --promotion only when it " +
        "changes. A drop-in replacement for ocf:linbit:drbd: the same parameters, names and defaults.\n\n" +
        "The state is read from DRBD itself (drbdsetup events2 on 8.4, drbdsetup status --json on 9), never from " +
        "text meant for people; every drbdadm, drbdsetup and pacemaker tool runs bounded by the operation's timeout. " +
        "monitor answers not running only when DRBD has no such resource (or no module) on this node; stop succeeds " +
        "only once DRBD has let go of it.\n\n" +
        "To avoid data divergence configure fencing in both DRBD and pacemaker (fencing resource-and-stonith with the " +
        "fence-peer handler /usr/lib/drbd/kvmocf-fence-peer, or DRBD 9 quorum). The clone needs notify=true, " +
        "clone-node-max=1, promoted-node-max=1, promoted-max at most 2 (2 needs allow-two-primaries) and, on DRBD 8.4, " +
        "clone-max at most 2.";

    public override IReadOnlyList<Parameter> Parameters =>
    [
        Resource, ConfigFile, AdjustMasterScore, StopOutdatesSecondary, IgnoreMissingNotifications, WfcTimeout,
        RemoveMasterScoreIfPeerPrimary, FailPromoteEarlyIfPeerPrimary, UnfenceIfAllUpToDate, UnfenceExtraArgs,
        RequireVersionGe, RequireVersionLt, ConnectOnlyAfterPromote,
    ];

    public override IReadOnlyList<OcfAction> Actions =>
    [
        new("start", TimeSpan.FromSeconds(240), ctx => new DrbdResource(ctx).Start()),
        new("promote", TimeSpan.FromSeconds(90), ctx => new DrbdResource(ctx).Promote()),
        new("demote", TimeSpan.FromSeconds(90), ctx => new DrbdResource(ctx).Demote()),
        new("notify", TimeSpan.FromSeconds(90), ctx => new DrbdResource(ctx).Notify()),
        new("stop", TimeSpan.FromSeconds(100), ctx => new DrbdResource(ctx).Stop()),
        new("monitor", TimeSpan.FromSeconds(20), ctx => new DrbdResource(ctx).Monitor()) { Interval = TimeSpan.FromSeconds(20), Role = "Unpromoted" },
        new("monitor", TimeSpan.FromSeconds(20), ctx => new DrbdResource(ctx).Monitor()) { Interval = TimeSpan.FromSeconds(10), Role = "Promoted" },
        new("reload", TimeSpan.FromSeconds(30), ctx => new DrbdResource(ctx).Reload()),
        new("reload-agent", TimeSpan.FromSeconds(30), ctx => new DrbdResource(ctx).ReloadAgent()),
    ];

    /// <summary>The clone's meta attributes, when pacemaker passes them (validate-all from pcs has
    /// none): notify, one instance per node, at most two promoted, two instances on DRBD 8.4 (that
    /// one needs the module's version and is checked by start).</summary>
    public override OcfResult ValidateConfiguration(OcfContext ctx)
    {
        var meta = ctx.Meta;
        if (!meta.IsClone) return OcfResult.Success;
        if (meta.CloneNodeMax is { } cnm && cnm != 1) return OcfResult.Configured($"meta attribute clone-node-max is {cnm}; it must be 1");
        if (meta.PromotedNodeMax is { } pnm && pnm != 1) return OcfResult.Configured($"meta attribute promoted-node-max is {pnm}; it must be 1");
        if (meta.PromotedMax is { } pm && pm > 2)
            return OcfResult.Configured($"meta attribute promoted-max is {pm}; DRBD cannot safely have more than 2 Primaries");
        if (meta.PromotedMax == 2 && meta.CloneMax > 2)
            return OcfResult.Configured($"meta attribute clone-max is {meta.CloneMax}; with promoted-max 2 it must be at most 2");
        if (!meta.NotifyEnabled && !ctx.Get(IgnoreMissingNotifications) && meta.Notification is null && ctx.Action != "validate-all")
            return OcfResult.Configured("the clone needs the meta attribute notify=true (or set ignore_missing_notifications=true)");
        return OcfResult.Success;
    }

    public override OcfResult ValidateHost(OcfContext ctx) => new DrbdResource(ctx).ValidateHost();
}
