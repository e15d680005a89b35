using System.Diagnostics;
using System.Globalization;
using KvmOcf.Drbd;
using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;
using static KvmOcf.DrbdDevice.DrbdDeviceAgent;

namespace KvmOcf.DrbdDevice;

internal sealed partial class DrbdResource
{
    private static readonly TimeSpan Retry = TimeSpan.FromSeconds(1);
    /// <summary>A failed promote does not answer before this much time has passed since it began
    /// (as the anchor): pacemaker would otherwise retry it in a tight loop.</summary>
    private static readonly TimeSpan PromoteFailureFloor = TimeSpan.FromSeconds(15);

    // ---- start -------------------------------------------------------------------------------

    public OcfResult Start()
    {
        if (ToolsProblem() is { } missing) return missing;
        if (Kernel.Proc() is null && LoadModule() is { } notLoaded) return notLoaded;
        if (ModuleProblem() is { } problem) return problem;
        // a configuration this node cannot read is "not installed" only while nothing of the resource
        // is up here; with the resource up in the kernel it is an error pacemaker recovers with stop
        if (Config(out var why) is not { } config)
            return Status() is null ? OcfResult.Installed(why) : OcfResult.Generic($"{Name} is up in the kernel, but {why}");
        if (ConfigProblem(config) is { } misfit) return misfit;
        var version = Kernel.Proc()?.Version ?? throw new OcfException(OcfExitCode.ErrInstalled, "the DRBD module went away");

        bool first = true, attachFailed = false;
        string last = "";
        while (true)
        {
            var s = Status();
            if (s is null || s.Volumes.Count == 0 || s.Volumes.Count < config.Minors(Uname).Count)
            {
                if (first) ctx.Run(Adm("check-resize", Name));   // offline resize with internal metadata: moves it first
                if (Create(s, config) is { } failed) return OcfResult.Generic(failed);
                if (Attach(version) is { } attach)
                {
                    if (attachFailed) return OcfResult.Generic($"failed to attach {Name}: {attach}");
                    attachFailed = true;
                    last = attach;
                }
            }
            else if (s.IsPrimary)
            {
                ctx.Log.LogWarning("{Resource} is already Primary at start: demoting", Name);
                last = RunAdm("secondary", Name) is { Succeeded: false } r ? Why(r) : "";
            }
            else
            {
                if (s.Volumes.Any(v => v.Disk == DiskStates.Diskless && !v.Client))
                {
                    if (Attach(version) is { } attach)
                    {
                        if (attachFailed) return OcfResult.Generic($"failed to attach {Name}: {attach}");
                        attachFailed = true;
                        last = attach;
                        continue;
                    }
                }
                if (!ctx.Get(ConnectOnlyAfterPromote)) Connect(version, config, wait: true);
                break;
            }
            if (!first && !ctx.Deadline.Sleep(Retry)) return OcfResult.Generic($"{Name} did not start in time{(last.Length > 0 ? ": " + last : "")}");
            first = false;
        }
        if (Status() is { } started) UpdateScore(started);
        return OcfResult.Success;
    }

    private OcfResult? LoadModule()
    {
        var parameters = ctx.Run(Adm("sh-mod-parms"));
        var args = parameters.Succeeded ? parameters.StandardOutput.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries) : [];
        var r = ctx.Run(new Command("modprobe").WithArguments(["-s", "drbd", .. args]));
        if (!r.Succeeded) return OcfResult.Installed($"cannot load the drbd module: {Why(r)}");
        return Kernel.Proc() is null ? OcfResult.Installed("the drbd module is loaded but /proc/drbd is missing") : null;
    }

    /// <summary>The resource and its minors in the kernel (drbdadm new-resource, new-minor), and
    /// their device nodes; null, or why not.</summary>
    private string? Create(ResourceStatus? s, DrbdConfig config)
    {
        if (s is null && RunAdm("new-resource", Name) is { Succeeded: false } nr) return $"drbdadm new-resource failed: {Why(nr)}";
        var minors = config.Minors(Uname);
        if ((s?.Volumes.Count ?? 0) < minors.Count && RunAdm("new-minor", Name) is { Succeeded: false } nm) return $"drbdadm new-minor failed: {Why(nm)}";
        // udev (or devtmpfs) creates /dev/drbdN: wait for it, bounded
        var missing = minors.Select(m => $"/dev/drbd{m}").ToList();
        if (!ctx.Deadline.WaitUntil(() => missing.All(IsBlockDevice), TimeSpan.FromMilliseconds(100)))
            return $"device nodes {string.Join(", ", missing.Where(d => !IsBlockDevice(d)))} did not appear in time";
        return null;
    }

    /// <summary>The device node exists (devtmpfs or udev made it; File.Exists is true for device nodes).</summary>
    private static bool IsBlockDevice(string path) => File.Exists(path);

    /// <summary>Attaches the backing disks (8.4: attach; 9: adjust --skip-net); null, or why not.</summary>
    private string? Attach(DrbdVersion version)
    {
        var r = version.Is9OrLater ? RunAdm("adjust", "--skip-net", Name) : RunAdm("attach", Name);
        return r.Succeeded ? null : Why(r);
    }

    /// <summary>Connects to the peers (drbdadm adjust), and with <paramref name="wait"/> waits up to
    /// wfc_timeout for the connection (drbdsetup wait-connect). Failures are logged: a resource that
    /// runs but is not connected is still running, and the score says what it is worth.</summary>
    private void Connect(DrbdVersion version, DrbdConfig? config, bool wait)
    {
        if (version.Is9OrLater) RunAdm("-v", "adjust", Name);
        else if (PeerFor(config) is { } peer) RunAdm("--peer", peer, "-v", "adjust", Name);
        else RunAdm("-v", "adjust", Name);
        if (!wait || WaitForConnection() is not { } seconds) return;
        var timeouts = new[] { $"--wfc-timeout={seconds}", $"--degr-wfc-timeout={seconds}", $"--outdated-wfc-timeout={seconds}" };
        var bound = TimeSpan.FromSeconds(seconds + 5);
        if (version.Is9OrLater)
            ctx.TryRun(new Command("drbdsetup").WithArguments(["wait-connect-resource", Name, .. timeouts]), bound);
        else
            foreach (var minor in Status()?.Volumes.Select(v => v.Minor) ?? [])
                ctx.TryRun(new Command("drbdsetup").WithArguments(["wait-connect", minor.ToString(CultureInfo.InvariantCulture), .. timeouts]), bound);
    }

    /// <summary>wfc_timeout in seconds, or null for "do not wait": the empty string, 0 or anything
    /// but digits (the anchor passed 0 on to drbdsetup, which then waited until the op timed out).</summary>
    private int? WaitForConnection()
    {
        if (ctx.Environment[OcfContext.EnvironmentName(WfcTimeout)] is "") return null;
        var text = ctx.Get(WfcTimeout).Trim();
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : null;
    }

    /// <summary>The peer to connect to on DRBD 8.4, as the configuration names it: the first other
    /// node the notification mentions, matched against the configuration's hosts. Only needed when the
    /// configuration has more hosts than this one and one peer (drbdadm picks the one peer itself).</summary>
    private string? PeerFor(DrbdConfig? config)
    {
        if (config is null || config.Hosts.Count <= 2 || ctx.Meta.Notification is not { } n) return null;
        var candidate = n.Start.Concat(n.Promote).Concat(n.Promoted).Concat(n.Unpromoted).Concat(n.Demote)
            .Select(p => p.Node).FirstOrDefault(node => node.Length > 0 && !IsMe(node));
        if (candidate is null) return null;
        var host = NodeNames.Match(candidate, config.Hosts);
        if (host is null)
            ctx.Log.LogWarning("pacemaker's node {Node} is none of {Resource}'s DRBD hosts ({Hosts}): use matching node names for " +
                "uname, corosync, pacemaker and DRBD", candidate, Name, string.Join(", ", config.Hosts));
        return host;
    }

    // ---- stop --------------------------------------------------------------------------------

    /// <summary>Demotes if needed and takes the resource down; 0 only once DRBD has no such resource
    /// here any more. A resource drbdadm cannot name (its configuration is gone or broken) is taken
    /// down by name with drbdsetup, rather than failing the stop and having the node fenced.</summary>
    public OcfResult Stop()
    {
        string last = "";
        bool first = true;
        while (true)
        {
            var s = Status();
            if (s is null) break;
            if (s.IsPrimary)
            {
                ctx.Log.LogWarning("{Resource} still Primary at stop: demoting", Name);
                if (RunAdm("secondary", Name) is { Succeeded: false } r) last = $"still Primary: {Why(r)}";
            }
            else
            {
                var r = RunAdm("down", Name);
                if (!r.Succeeded)
                {
                    last = $"drbdadm down failed: {Why(r)}";
                    var direct = ctx.Run(new Command("drbdsetup").WithArguments("down", Name));
                    if (!direct.Succeeded) last = $"drbdsetup down failed: {Why(direct)}";
                }
            }
            if (!first && !ctx.Deadline.Sleep(Retry)) return OcfResult.Generic($"{Name} is not down{(last.Length > 0 ? ": " + last : "")}");
            first = false;
        }
        MaybeOutdateSelf(primary: false);
        Score(ScoreDecision.Remove("stopped"));
        return OcfResult.Success;
    }

    // ---- promote, demote ---------------------------------------------------------------------

    public OcfResult Promote()
    {
        var started = Stopwatch.GetTimestamp();
        var result = TryPromote();
        if (!result.IsSuccess)
        {
            var left = PromoteFailureFloor - Stopwatch.GetElapsedTime(started);
            if (left > TimeSpan.Zero)
            {
                ctx.Log.LogWarning("promotion failed; waiting {Seconds:0}s before answering, to prevent a tight recovery loop", left.TotalSeconds);
                ctx.Deadline.Sleep(left);
            }
        }
        return result;
    }

    private OcfResult TryPromote()
    {
        bool first = true;
        string last = "";
        while (true)
        {
            var s = Status();
            if (s is null) return OcfResult.Generic($"cannot promote {Name}: it is not started");
            if (s.IsPrimary)
            {
                if (ctx.Get(ConnectOnlyAfterPromote) && Kernel.Proc()?.Version is { } v) Connect(v, Config(out _), wait: false);
                return OcfResult.Success;
            }
            if (!first && UnexpectedPrimary(s))
            {
                if (ctx.Get(FailPromoteEarlyIfPeerPrimary))
                {
                    Score(ScoreDecision.Remove("a peer is already (or still) Primary"));
                    return OcfResult.Generic($"cannot promote {Name}: a peer is already (or still) Primary");
                }
                ctx.Log.LogInformation("a peer of {Resource} is already (or still) Primary; promotion will likely fail or need several attempts", Name);
            }
            var r = RunAdm("primary", Name);
            // 17: all data here is inconsistent, or it is consistent and fencing the peer failed
            if (r.ExitCode == 17)
                return OcfResult.Generic($"refusing to promote {Name} without access to UpToDate data: {Why(r)}");
            if (!r.Succeeded) last = Why(r);
            if (!first && !ctx.Deadline.Sleep(Retry)) return OcfResult.Generic($"cannot promote {Name}{(last.Length > 0 ? ": " + last : "")}");
            first = false;
        }
    }

    /// <summary>Connected to a Primary peer that pacemaker does not know about (promoted-max 1).</summary>
    private bool UnexpectedPrimary(ResourceStatus s) =>
        (ctx.Meta.PromotedMax ?? 1) == 1 && !s.IsPrimary && s.Summary.SomePeerPrimary && !PacemakerPromotedElsewhere();

    public OcfResult Demote()
    {
        bool first = true;
        string last = "";
        while (true)
        {
            var s = Status();
            if (s is null) return OcfResult.Generic($"cannot demote {Name}: it is not started");
            if (!s.IsPrimary) return OcfResult.Success;
            if (RunAdm("secondary", Name) is { Succeeded: false } r) last = Why(r);
            if (!first && !ctx.Deadline.Sleep(Retry)) return OcfResult.Generic($"{Name} is still Primary{(last.Length > 0 ? ": " + last : "")}");
            first = false;
        }
    }

    // ---- notify, reload ------------------------------------------------------------------------

    /// <summary>pre/post start: connect (a new peer may be starting); post anything: refresh the
    /// score and, with stop_outdates_secondary, outdate this Secondary when the peer is gone and
    /// pacemaker says another node is Primary. A notification never fails: pacemaker ignores it.</summary>
    public OcfResult Notify()
    {
        if (ctx.Meta.Notification is not { } n) { ctx.Log.LogWarning("notify without a notification"); return OcfResult.Success; }
        try
        {
            if (n.Operation == "start" && !ctx.Get(ConnectOnlyAfterPromote) && Status() is { IsConfigured: true } &&
                Kernel.Proc()?.Version is { } v)
                Connect(v, v.Is9OrLater ? null : Config(out _), wait: false);
            if (n.IsPost)
            {
                var s = Status();
                if (s is null) Score(ScoreDecision.Remove("not running"));
                else
                {
                    UpdateScore(s);
                    if (s.Summary.PeerDiskAnyUnknown) MaybeOutdateSelf(s.IsPrimary);
                }
            }
        }
        catch (OperationException e) { ctx.Log.LogWarning("{Type}-{Operation} notification of {Resource}: {Reason}", n.Type, n.Operation, Name, e.Reason); }
        return OcfResult.Success;
    }

    /// <summary>With stop_outdates_secondary: a Secondary that cannot talk to its peer while
    /// pacemaker's notification names another node Primary marks its own data Outdated. Never on a
    /// Primary (both Primary without a link is a split brain pacemaker and fencing must settle).</summary>
    private void MaybeOutdateSelf(bool primary)
    {
        // at stop: the notification variables pacemaker gives the stop itself (no notify_type there)
        if (!ctx.Get(StopOutdatesSecondary) || ctx.Meta.NotificationData is not { } n) return;
        var host = OutdateBecauseOf(n, IsMe);
        if (host is null) return;
        if (primary)
        {
            ctx.Log.LogCritical("resource internal SPLIT BRAIN: both {Me} and {Other} are Primary for {Resource}, but the replication link is down",
                PacemakerName, host, Name);
            return;
        }
        ctx.Log.LogInformation("outdating {Resource}: according to pacemaker, {Host} is still Primary", Name, host);
        RunAdm("outdate", Name);
        Score(ScoreDecision.Remove("outdated itself"));
    }

    /// <summary>The Primary elsewhere that makes this Secondary outdate itself: the first promoted
    /// node that is not this one and is not being stopped (then its notification data is stale).</summary>
    internal static string? OutdateBecauseOf(Notification n, Func<string, bool> isMe)
    {
        var host = n.Promoted.Select(p => p.Node).FirstOrDefault(node => node.Length > 0 && !isMe(node));
        if (host is null || n.Stop.Any(p => NodeNames.Same(p.Node, host))) return null;
        return host;
    }

    public OcfResult Reload()
    {
        var s = Status();
        if (s is null) return OcfResult.Generic($"cannot reload {Name}: it is not running");
        RunAdm("adjust", Name);
        if (Status() is { } now) UpdateScore(now);
        return OcfResult.Success;
    }

    /// <summary>Reloadable parameters changed (scores, policies): refresh the score.</summary>
    public OcfResult ReloadAgent()
    {
        if (Status() is { } s) UpdateScore(s);
        return OcfResult.Success;
    }

    /// <summary>unfence_if_all_uptodate: the resource's unfence-peer handler, with unfence_extra_args
    /// in its environment. Its answer is logged; it never fails the action.</summary>
    private void Unfence()
    {
        var r = ctx.TryRun(Adm("unfence-peer", Name).WithEnvironment("OCF_RESKEY_unfence_extra_args", ctx.Get(UnfenceExtraArgs)),
            TimeSpan.FromTicks(ctx.Deadline.Remaining.Ticks / 2));
        if (r is null) ctx.Log.LogWarning("unfence-peer handler of {Resource} did not finish in time", Name);
        else ctx.Log.LogDebug("unfence-peer handler of {Resource} exited {Code}", Name, r.ExitCode);
    }
}
