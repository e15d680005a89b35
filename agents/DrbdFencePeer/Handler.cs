using System.Diagnostics;
using System.Globalization;
using KvmOcf.Drbd;
using Microsoft.Extensions.Logging;

namespace KvmOcf.DrbdFencePeer;

/// <summary>The environment drbdadm gives a handler: the resource, its minors and configuration
/// file, the peer (8.4: DRBD_PEER, its host name in the configuration) or, on DRBD 9, the node ids
/// and the set of nodes whose data is UpToDate.</summary>
internal sealed record HandlerEnvironment(string? Resource, string? Minors, string? ConfigFile, string? Peer,
    string? UpToDateNodes, string? MyNodeId, IReadOnlyDictionary<int, string> NodeIds)
{
    public static HandlerEnvironment FromProcess()
    {
        var ids = new Dictionary<int, string>();
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            if (e.Key is string k && k.StartsWith("DRBD_NODE_ID_", StringComparison.Ordinal) &&
                int.TryParse(k["DRBD_NODE_ID_".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var id) && e.Value is string v && v.Length > 0)
                ids[id] = v;
        static string? Get(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        return new HandlerEnvironment(Get("DRBD_RESOURCE"), Get("DRBD_MINOR"), Get("DRBD_CONF"), Get("DRBD_PEER"),
            Get("UP_TO_DATE_NODES"), Get("DRBD_MY_NODE_ID"), ids);
    }

    /// <summary>DRBD 9 passes UP_TO_DATE_NODES; 8.4 does not.</summary>
    public bool IsDrbd9 => UpToDateNodes is not null;
}

/// <summary>One run of the handler: fence (place the constraint) or unfence (remove it). Every
/// pacemaker and DRBD tool runs bounded by <see cref="_deadline"/>; the CIB is read as XML and
/// changed with cibadmin (a patch against the version that was checked, retried when the CIB moved
/// on meanwhile).</summary>
internal sealed class Handler(HandlerOptions o, HandlerEnvironment env, string resource, ILogger log, Deadline deadline)
{
    private readonly Deadline _deadline = deadline;
    private readonly long _started = Stopwatch.GetTimestamp();
    private TimeSpan Elapsed => Stopwatch.GetElapsedTime(_started);
    private readonly string _prefix = o.PrefixFor(resource);
    private string _uname = "";

    private CommandResult Run(Command c, TimeSpan? atMost = null) => c.Run(atMost is { } m ? _deadline.AtMost(m) : _deadline, log);

    // ---- reading -------------------------------------------------------------------------------

    /// <summary>The CIB: this node's copy (--local), or the DC's, bounded by <paramref name="atMost"/>.</summary>
    private Cib? QueryCib(bool local, TimeSpan atMost)
    {
        var command = new Command("cibadmin").WithArguments("--query");
        command = local ? command.WithArguments("--local") : command.WithArguments("--timeout", Math.Max(1, (int)atMost.TotalSeconds).ToString(CultureInfo.InvariantCulture));
        var r = new Command(command.Program).WithArguments(command.Arguments).TryRun(_deadline.AtMost(atMost + TimeSpan.FromSeconds(2)), log);
        if (r is null || !r.Succeeded) { log.LogDebug("cibadmin --query failed: {Why}", r?.Summary ?? "timed out"); return null; }
        try { return Cib.Parse(r.StandardOutput); }
        catch (FormatException e) { log.LogWarning("cannot read the CIB: {Why}", e.Message); return null; }
    }

    /// <summary>The CIB from the DC, retrying with longer timeouts (1, 2, 2, 3, 4 … s) for up to
    /// --dc-timeout: a DC election after the old DC died can take a while.</summary>
    private Cib? CibFromDc()
    {
        double tenths = 18;
        while (true)
        {
            var t0 = Stopwatch.GetTimestamp();
            if (QueryCib(local: false, TimeSpan.FromSeconds(Math.Floor(tenths / 10))) is { } cib) return cib;
            if (Elapsed > o.DcTimeout || _deadline.Expired) return null;
            if (Stopwatch.GetElapsedTime(t0) < TimeSpan.FromSeconds(1)) _deadline.Sleep(TimeSpan.FromSeconds(1));
            tenths = tenths * 5 / 4;
        }
    }

    /// <summary>The local DRBD state. On 8.4 from /proc/drbd: the kernel may be calling us while
    /// holding the lock a netlink request would wait for (it does so from drbdsetup primary).</summary>
    private LocalState Local()
    {
        if (env.IsDrbd9)
        {
            var s = new DrbdKernel(c => Run(c, TimeSpan.FromSeconds(10))).Status(resource);
            return LocalState.Of(s ?? new ResourceStatus(resource, Roles.Unconfigured, [], []));
        }
        var minors = Minors();
        var proc = new DrbdKernel(c => Run(c)).Proc() ?? ProcDrbd.Parse("");
        return LocalState.Of(proc.Resource(resource, minors));
    }

    private List<int> Minors()
    {
        var text = env.Minors;
        if (text is null)
        {
            var adm = new Command("drbdadm");
            if (env.ConfigFile is { } conf) adm = adm.WithArguments("-c", conf);
            var r = Run(adm.WithArguments("sh-minor", resource), TimeSpan.FromSeconds(10));
            text = r.Succeeded ? r.StandardOutput : "";
        }
        return [.. text.Split([' ', ',', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries)
            .Select(m => int.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1).Where(n => n >= 0)];
    }

    // ---- who is allowed, who is excluded --------------------------------------------------------

    /// <summary>(allowed, excluded) as CIB node names: 8.4 — this node, and DRBD_PEER (or the only
    /// other node); 9 — the nodes in UP_TO_DATE_NODES, and the others. Null with a reason when the
    /// input does not make sense.</summary>
    private (List<string> Allowed, List<string> Excluded)? NodeLists(Cib cib, out string problem)
    {
        problem = "";
        var nodes = cib.Nodes;
        string Cib(string name)
        {
            var match = NodeNames.Match(name, nodes);
            if (match is null) log.LogWarning("{Name} is not a node of the cluster ({Nodes}); using it as is", name, string.Join(", ", nodes));
            return match ?? name;
        }
        if (!env.IsDrbd9)
        {
            var me = Cib(_uname);
            string? peer = env.Peer is { } p ? Cib(p) : null;
            if (peer is null && nodes.Where(n => !NodeNames.Same(n, me)).ToList() is [var only]) peer = only;
            return ([me], peer is null ? [] : [peer]);
        }
        var mask = env.UpToDateNodes!;
        if (!mask.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ||
            !ulong.TryParse(mask[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var bits))
        { problem = $"UP_TO_DATE_NODES={mask} is not a hex mask"; return null; }
        if (!int.TryParse(env.MyNodeId, NumberStyles.None, CultureInfo.InvariantCulture, out var myId) || myId > 63)
        { problem = $"DRBD_MY_NODE_ID={env.MyNodeId} is not a node id"; return null; }
        if ((bits & (1UL << myId)) == 0) { problem = $"this node ({myId}) is not in UP_TO_DATE_NODES={mask}"; return null; }
        if (env.NodeIds.TryGetValue(myId, out var myName) && !NodeNames.Same(myName, _uname))
            log.LogWarning("my node id {Id} names {Name}, not this host ({Host})", myId, myName, _uname);
        var allowed = new List<string>();
        var excluded = new List<string>();
        foreach (var (id, name) in env.NodeIds.OrderBy(kv => kv.Key))
            ((bits & (1UL << id)) != 0 ? allowed : excluded).Add(Cib(name));
        return (allowed, excluded);
    }

    /// <summary>The constraint that allows exactly <paramref name="allowed"/>: by node name, or by
    /// the node attribute --fencing-attribute (a node without it falls back to its name).</summary>
    private FencingConstraint Wanted(Cib cib, string clone, string role, IEnumerable<string> allowed) =>
        new($"{_prefix}-{clone}", clone, role,
            [.. allowed.Select(n => o.FencingAttribute == "#uname" ? ("#uname", n)
                : cib.NodeAttribute(n, o.FencingAttribute) is { } v ? (o.FencingAttribute, v) : ("#uname", n))]);

    private bool Rejects(FencingConstraint c, Cib cib, string node) => c.Rejects(node, (n, a) => cib.NodeAttribute(n, a));

    // ---- fence -----------------------------------------------------------------------------------

    public int Fence()
    {
        _uname = File.ReadAllText("/proc/sys/kernel/hostname").Trim();
        var cib = QueryCib(local: true, TimeSpan.FromSeconds(10));
        if (cib is null) return Fail("cannot read the local CIB");
        var clone = o.CloneId ?? cib.CloneOf(resource);
        if (clone is null) return Fail($"no promotable clone manages DRBD resource {resource} in the CIB");
        if (NodeLists(cib, out var problem) is not var (allowed, excluded)) return Fail(problem);
        var role = o.Role ?? (cib.KnowsPromotedRole ? "Promoted" : "Master");
        var wanted = Wanted(cib, clone, role, allowed);
        var me = NodeNames.Match(_uname, cib.Nodes) ?? _uname;
        var local = Local();

        var existing = cib.Constraint(wanted.Id);
        if (Decisions.OnExisting(existing, wanted, existing is not null && Rejects(existing, cib, me), local.Primary) is { } done)
            return Finish(done, local);
        if (existing is not null)
        {
            // another fence came first: restrict it further, never lift what it excludes
            wanted = existing.Without(Wanted(cib, clone, role, excluded).Allowed);
            if (wanted.Allowed.Count == existing.Allowed.Count)
                return Finish(new Outcome(ExitCodes.ConstraintPlaced, false, $"suitable constraint already placed: {existing.Id}"), local);
        }

        var peers = PeerStates(excluded, existing, local, out local);
        var outcome = Decisions.Place(QuorumNow(), local, peers, o.UnreachablePeerIsOutdated);
        log.LogInformation("{Message}", outcome.Message);
        if (outcome.Place)
        {
            if (Write(wanted, replace: existing is not null, me) is { } failed)
                return Finish(new Outcome(ExitCodes.Failure, false, $"could not place the constraint {wanted.Id}: {failed}; DATA INTEGRITY at RISK"), local);
            log.LogInformation("placed constraint {Id}: promotion only on {Nodes}", wanted.Id, string.Join(", ", wanted.Allowed.Select(a => a.Value)));
        }
        return Finish(outcome, local, placed: outcome.Place ? wanted : null);
    }

    /// <summary>Each excluded peer's state (waiting --net-hickup for the link to come back while
    /// every peer is alive); <paramref name="after"/> is the local state read afterwards.</summary>
    private List<PeerState> PeerStates(List<string> excluded, FencingConstraint? existing, LocalState before, out LocalState after)
    {
        after = before;
        while (true)
        {
            var cib = CibFromDc();
            var states = cib is null ? excluded.Select(_ => PeerState.DcUnreachable).ToList()
                : excluded.Count == 0 ? [UnknownPeer()]
                : excluded.Select(p => existing is not null && Rejects(existing, cib, p) ? PeerState.AlreadyRejected : PeerStateOf(p, cib)).ToList();
            log.LogInformation("peers {Peers}: {States}", string.Join(", ", excluded), string.Join(", ", states));
            if (!states.All(s => s is PeerState.Reachable or PeerState.AlreadyRejected) || Elapsed >= o.NetHickup) return states;
            _deadline.AtMost(o.NetHickup - Elapsed).Sleep(o.NetHickup - Elapsed);
            after = Local();
            if (after.PeerDisksAllUpToDate) return states;
        }
    }

    /// <summary>The DRBD peer is not known (no DRBD_PEER, several other nodes): wait the whole
    /// --timeout, time for node-level fencing to act, then call it unknown.</summary>
    private PeerState UnknownPeer()
    {
        var left = o.Timeout - Elapsed;
        log.LogWarning("don't know who my peer is; waiting {Seconds:0}s just in case", left.TotalSeconds);
        if (left > TimeSpan.Zero) _deadline.Sleep(left);
        return PeerState.Unknown;
    }

    private PeerState PeerStateOf(string peer, Cib cib)
    {
        bool stonith = cib.PropertyNotFalse("stonith-enabled"), startupFencing = cib.PropertyNotFalse("startup-fencing");
        while (true)
        {
            var st = cib.StateOf(peer);
            bool willFence = WillFence(st, stonith, startupFencing);
            bool online = st?.ControllerOnline == true;
            if (!willFence && !online)
                return st is { ExpectedDown: true, InMembership: false } ? PeerState.Fenced : PeerState.Unreachable;
            if (online && ControllerAnswers(peer)) return PeerState.Reachable;
            if (Elapsed >= o.Timeout || _deadline.Expired) return online ? PeerState.Unknown : PeerState.Unreachable;
            _deadline.Sleep(TimeSpan.FromSeconds(2));
            if (CibFromDc() is not { } fresh) return PeerState.DcUnreachable;
            cib = fresh;
        }
    }

    /// <summary>crm-fence-peer's guess_if_pacemaker_will_fence (after pacemaker's
    /// determine_online_status_fencing): whether pacemaker is going to fence the node, so that
    /// waiting for its state to settle is worth it.</summary>
    internal static bool WillFence(NodeState? st, bool stonithEnabled, bool startupFencing)
    {
        if (!stonithEnabled) return false;
        if (st is null) return startupFencing;
        if (st.InCcm is null or "") return true;
        if (st.Crmd == "banned") return true;
        if (st.ExpectedDown && !st.InMembership && !st.ControllerOnline) return false;   // clean down
        return !st.InMembership || !st.ControllerOnline;
    }

    /// <summary>crmadmin --status PEER: the peer's controller answers "ok".</summary>
    private bool ControllerAnswers(string peer)
    {
        var wait = TimeSpan.FromSeconds(4);
        var r = new Command("crmadmin").WithArguments("--timeout", $"{(int)wait.TotalMilliseconds}ms", "--status", peer, "--output-as=xml")
            .TryRun(_deadline.AtMost(wait + TimeSpan.FromSeconds(2)), log);
        if (r is null || !r.Succeeded) return false;
        try { return Xml.Parse(r.StandardOutput).Descendants("crmd").Any(c => c.Attribute("result") == "ok"); }
        catch (FormatException) { return false; }
    }

    /// <summary>Quorum now: the DC's CIB says so and crm_node --quorum agrees.</summary>
    private bool QuorumNow()
    {
        var cib = CibFromDc();
        if (cib is null || !cib.HaveQuorum) return false;
        var r = new Command("crm_node").WithArguments("--quorum").TryRun(_deadline.AtMost(TimeSpan.FromSeconds(10)), log);
        if (r is { Succeeded: true } && r.StandardOutput.Trim() == "0") { log.LogWarning("the CIB still had quorum, crm_node --quorum says no"); return false; }
        return true;
    }

    private int Finish(Outcome outcome, LocalState local, FencingConstraint? placed = null)
    {
        var code = outcome.ExitCode;
        if (!outcome.Place) log.Log(code is ExitCodes.Failure ? LogLevel.Warning : LogLevel.Information, "{Message}", outcome.Message);
        if (code is ExitCodes.PeerOutdated or ExitCodes.ConstraintPlaced or ExitCodes.PeerStonithed)
        {
            // the link may have come back meanwhile: then the peer is not outdated, and the constraint must go
            if (Local().PeerDisksAllUpToDate && placed is not null)
            {
                log.LogWarning("all peer disks are UpToDate (again): removing the constraint again");
                if (Remove(placed) is null) code = ExitCodes.Failure;
            }
        }
        if (Decisions.Suicide(o.SuicideOnFailureIfPrimary, code, local.Primary)) CommitSuicide();
        log.LogInformation("fence-peer {Resource}: exit {Code} after {Seconds:0.0}s", resource, code, Elapsed.TotalSeconds);
        return code;
    }

    private int Fail(string why)
    {
        log.LogError("fence-peer {Resource}: {Why}", resource, why);
        if (o.SuicideOnFailureIfPrimary && Decisions.Suicide(true, ExitCodes.Failure, SafeLocal()?.Primary == true)) CommitSuicide();
        return ExitCodes.Failure;
    }

    private LocalState? SafeLocal()
    {
        try { return Local(); } catch (OperationException) { return null; }
    }

    /// <summary>A Primary that could not fence its peer has pacemaker fence it (with STONITH), else
    /// reboots; as crm-fence-peer does, it announces, waits, then reboot -f.</summary>
    private void CommitSuicide()
    {
        var cib = QueryCib(local: true, TimeSpan.FromSeconds(5));
        bool stonith = cib?.PropertyNotFalse("stonith-enabled") ?? false;
        var wait = TimeSpan.FromSeconds(20);
        if (stonith)
        {
            log.LogCritical("fencing the peer failed while Primary: asking pacemaker to fence this node");
            new Command("crm_attribute").WithArguments("--type", "status", "--node", NodeNames.Match(_uname, cib?.Nodes ?? []) ?? _uname,
                "--name", "terminate", "--update", "1").TryRun(Deadline.After(TimeSpan.FromSeconds(10)), log);
            wait = TimeSpan.FromSeconds(300);
        }
        log.LogCritical("fencing the peer failed while Primary: reboot -f in {Seconds:0}s (kill {Pid} to cancel)", wait.TotalSeconds, Environment.ProcessId);
        Thread.Sleep(wait);
        new Command("reboot").WithArguments("-f").TryRun(Deadline.After(TimeSpan.FromSeconds(30)), log);
        Thread.Sleep(Timeout.Infinite);
    }

    // ---- writing ---------------------------------------------------------------------------------

    /// <summary>Places (or replaces) the constraint: a copy of the DC's CIB is checked (quorum, not
    /// excluded already), changed with cibadmin on the copy, and the difference applied as a patch —
    /// which fails if the CIB changed meanwhile (103, CRM_EX_OLD); then it starts over, until the
    /// timeout. The copy may hold secrets: a private directory, removed afterwards. Null, or why not.</summary>
    private string? Write(FencingConstraint wanted, bool replace, string me)
    {
        var dir = Directory.CreateTempSubdirectory("kvmocf-fence-");
        try
        {
            while (true)
            {
                var query = new Command("cibadmin").WithArguments("--query").TryRun(_deadline.AtMost(TimeSpan.FromSeconds(20)), log);
                if (query is null || !query.Succeeded) return $"cibadmin --query: {query?.Summary ?? "timed out"}";
                var cib = Cib.Parse(query.StandardOutput);
                if (!cib.HaveQuorum) return "no quorum";
                if (cib.Constraint(wanted.Id) is { } there && Rejects(there, cib, me) && !replace) return $"constraint {there.Id} already exists and excludes this node";
                var orig = Path.Combine(dir.FullName, "cib.orig.xml");
                var changed = Path.Combine(dir.FullName, "cib.xml");
                File.WriteAllText(orig, query.StandardOutput);
                File.WriteAllText(changed, query.StandardOutput);
                var edit = new Command("cibadmin").WithEnvironment("CIB_file", changed)
                    .WithArguments(replace ? ["--replace", "-o", "constraints", "-X", wanted.ToXml(_prefix)]
                        : ["--modify", "--allow-create", "-o", "constraints", "-X", wanted.ToXml(_prefix)]);
                var e = Run(edit, TimeSpan.FromSeconds(20));
                if (!e.Succeeded) return $"cibadmin {(replace ? "--replace" : "--modify")}: {e.Summary}";
                var diff = Run(new Command("crm_diff").WithArguments("--original", orig, "--new", changed), TimeSpan.FromSeconds(20));
                if (diff.StandardOutput.TrimStart() is not { Length: > 0 } patch) return null;   // nothing to change
                var apply = Run(new Command("cibadmin").WithArguments("--patch", "--xml-pipe").WithStandardInput(patch), TimeSpan.FromSeconds(30));
                if (apply.Succeeded) return null;
                // 103: CRM_EX_OLD (pacemaker 2), 205: pcmk_err_old_data (1.1) — the CIB moved on
                if (apply.ExitCode is not (103 or 205)) return $"cibadmin --patch: {apply.Summary}";
                if (Elapsed >= o.Timeout || !_deadline.Sleep(TimeSpan.FromSeconds(1))) return "the CIB kept changing";
            }
        }
        catch (OperationException e) { return e.Reason; }
        catch (FormatException e) { return e.Message; }
        finally { dir.Delete(recursive: true); }
    }

    /// <summary>Deletes exactly this constraint (id and clone must both match); null on failure.</summary>
    private string? Remove(FencingConstraint c)
    {
        var r = new Command("cibadmin").WithArguments("--delete", "-X", $"<rsc_location rsc=\"{Xml.Escape(c.CloneId)}\" id=\"{Xml.Escape(c.Id)}\"/>")
            .TryRun(_deadline.AtMost(TimeSpan.FromSeconds(30)), log);
        if (r is { Succeeded: true }) { log.LogInformation("removed constraint {Id}", c.Id); return c.Id; }
        log.LogWarning("could not remove constraint {Id}: {Why}", c.Id, r?.Summary ?? "timed out");
        return null;
    }

    // ---- unfence ---------------------------------------------------------------------------------

    public int Unfence()
    {
        _uname = File.ReadAllText("/proc/sys/kernel/hostname").Trim();
        var cib = QueryCib(local: true, TimeSpan.FromSeconds(10));
        if (cib is null) return Fail("cannot read the local CIB");
        var clone = o.CloneId ?? cib.CloneOf(resource);
        if (clone is null) { log.LogInformation("no promotable clone manages DRBD resource {Resource}: nothing to unfence", resource); return 0; }
        var existing = cib.Constraint($"{_prefix}-{clone}");
        var me = NodeNames.Match(_uname, cib.Nodes) ?? _uname;
        var local = Local();
        FencingConstraint? wanted = null;
        if (env.IsDrbd9 && existing is not null && NodeLists(cib, out _) is var (allowed, _))
            wanted = Wanted(cib, clone, existing.Role, allowed);
        var (action, message) = Decisions.Unfence(existing, o.UnfenceOnlyIfOwnerMatch, existing is not null && Rejects(existing, cib, me), local, wanted);
        if (!o.Quiet || action != UnfenceAction.None) log.LogInformation("unfence-peer {Resource}: {Message}", resource, message);
        return action switch
        {
            UnfenceAction.Remove => Remove(existing!) is null ? ExitCodes.Failure : 0,
            UnfenceAction.Replace => Write(wanted!, replace: true, me) is { } failed ? Fail($"could not modify constraint: {failed}") : 0,
            _ => 0,
        };
    }
}
