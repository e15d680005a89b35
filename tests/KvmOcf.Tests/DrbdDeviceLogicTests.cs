using KvmOcf.Drbd;
using KvmOcf.DrbdDevice;
using KvmOcf.Ocf;

namespace KvmOcf.Tests;

/// <summary>DrbdDevice's decisions: DRBD's state read from recorded output (DRBD 9 from drbd-utils'
/// own tests, DRBD 8.4 from the lab's guest; see data/drbd/README.md), the anchor's promotion-score
/// table, node names, and the parameters and meta attributes.</summary>
public class DrbdDeviceLogicTests
{
    private static string Data(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "data", "drbd", name));

    private static ScoreDecision Decide(ResourceStatus s, PeerPrimaryPolicy policy = PeerPrimaryPolicy.Ignore, bool pacemakerKnowsPrimary = true, int promotedMax = 1) =>
        Promotion.Decide(s.Summary, ScoreValues.Default, policy, promotedMax, unfenceIfAllUpToDate: true, () => pacemakerKnowsPrimary);

    // ---- DRBD 9: events2 recorded by drbd-utils (tests/v9) ------------------------------------------

    [Fact]
    public void Events2_applies_create_and_change_in_order()
    {
        var s = Events2.Find(Data("drbd9-events2-all-create-change.txt"), "some-resource")!;
        Assert.Equal(Roles.Primary, s.Role);
        Assert.Equal([(0, 1000, DiskStates.UpToDate)], s.Volumes.Select(v => (v.Number, v.Minor, v.Disk)));
        var c = Assert.Single(s.Connections);
        Assert.Equal((1, "some-peer", ConnectionStates.Connected, Roles.Secondary), (c.PeerNodeId, c.PeerName, c.State, c.PeerRole));
        Assert.Equal([(0, "Established", DiskStates.UpToDate)], c.PeerVolumes.Select(p => (p.Number, p.Replication, p.PeerDisk)));
        Assert.Null(Events2.Find(Data("drbd9-events2-all-create-change.txt"), "other"));
    }

    [Theory]
    // file, expected decision (anchor: drbd_update_master_score)
    [InlineData("drbd9-events2-all-create-change.txt", ScoreDecision.Kind.Set, 10000)]        // Primary, all UpToDate
    [InlineData("drbd9-events2-sync.txt", ScoreDecision.Kind.Set, 10000)]                     // SyncSource: peer known
    [InlineData("drbd9-events2-promotion-score-inconsistent.txt", ScoreDecision.Kind.Set, 10)] // only the peer UpToDate
    [InlineData("drbd9-events2-may-promote-quorum.txt", ScoreDecision.Kind.Remove, 0)]         // quorum:no
    [InlineData("drbd9-events2-may-promote-peer-role.txt", ScoreDecision.Kind.Set, 1000)]      // peer disk never reported: unknown
    [InlineData("drbd9-events2-promotion-score-devices.txt", ScoreDecision.Kind.Set, 10000)]   // two volumes, no peers
    public void Recorded_drbd9_events_give_the_anchors_score(string file, ScoreDecision.Kind kind, long score)
    {
        var d = Decide(Events2.Find(Data(file), "some-resource")!);
        Assert.Equal((kind, score), (d.Action, d.Value));
    }

    [Fact]
    public void Events2_reads_resync_progress_and_quorum()
    {
        var sync = Events2.Find(Data("drbd9-events2-sync.txt"), "some-resource")!;
        var p = Assert.Single(Assert.Single(sync.Connections).PeerVolumes);
        Assert.Equal(("SyncSource", DiskStates.Inconsistent, 37.5), (p.Replication, p.PeerDisk, p.Done));
        Assert.False(Events2.Find(Data("drbd9-events2-may-promote-quorum.txt"), "some-resource")!.Summary.HaveQuorum);
        Assert.Equal(Roles.Primary, Assert.Single(Events2.Find(Data("drbd9-events2-may-promote-peer-role.txt"), "some-resource")!.Connections).PeerRole);
    }

    [Fact]
    public void Events2_forgets_destroyed_objects_and_skips_what_is_not_an_event()
    {
        var text = Data("drbd9-events2-all-create-change.txt") + """
            call helper name:some-resource peer-node-id:1 conn-name:some-peer volume:0 helper:before-resync-target
            garbage
            destroy peer-device name:some-resource peer-node-id:1 conn-name:some-peer volume:0
            destroy connection name:some-resource peer-node-id:1 conn-name:some-peer
            """;
        var s = Events2.Find(text, "some-resource")!;
        Assert.Empty(s.Connections);
        Assert.Null(Events2.Find(text + "\ndestroy resource name:some-resource\n", "some-resource"));
    }

    // ---- DRBD 9: status --json (written to drbdsetup.c's printer) ------------------------------------

    [Fact]
    public void Status_json_reads_roles_disks_peers_and_clients()
    {
        var two = StatusJson.Parse(Data("drbd9-status-json-two-node.json"))["r0"];
        Assert.Equal((Roles.Primary, DiskStates.UpToDate), (two.Role, Assert.Single(two.Volumes).Disk));
        Assert.Equal((1, "b", "Connected", "Secondary", DiskStates.UpToDate),
            (two.Connections[0].PeerNodeId, two.Connections[0].PeerName, two.Connections[0].State, two.Connections[0].PeerRole, two.Connections[0].PeerVolumes[0].PeerDisk));
        Assert.Equal((ScoreDecision.Kind.Set, 10000L), (Decide(two).Action, Decide(two).Value));
        Assert.Throws<FormatException>(() => StatusJson.Parse("{\"not\": \"an array\"}"));
        Assert.Throws<FormatException>(() => StatusJson.Parse("[{\"name\": \"r0\", "));
    }

    [Fact]
    public void Status_json_with_four_nodes_and_a_diskless_client()
    {
        var all = StatusJson.Parse(Data("drbd9-status-json-four-node.json"));
        Assert.NotEmpty(all);
        foreach (var s in all.Values)
        {
            Assert.True(s.IsConfigured, s.ToString());
            Assert.NotEqual(ScoreDecision.Kind.Leave, Decide(s).Action);
        }
    }

    // ---- DRBD 8.4: what drbdsetup-84 and /proc/drbd print in the lab's guest --------------------------

    [Fact]
    public void Drbd84_events2_of_a_connected_pair()
    {
        var s = Events2Source.WithThePeer(Events2.Find(Data("drbd84-events2-connected.txt"), "r0")!);
        Assert.Equal((Roles.Secondary, DiskStates.UpToDate), (s.Role, Assert.Single(s.Volumes).Disk));
        Assert.Equal(0, s.Volumes[0].Minor);
        var c = Assert.Single(s.Connections);
        Assert.Equal((ConnectionStates.Connected, Roles.Secondary, DiskStates.UpToDate), (c.State, c.PeerRole, Assert.Single(c.PeerVolumes).PeerDisk));
        Assert.Equal((ScoreDecision.Kind.Set, 10000L), (Decide(s).Action, Decide(s).Value));
    }

    [Fact]
    public void Drbd84_events2_of_a_node_waiting_for_its_peer_has_it_unknown()
    {
        var s = Events2Source.WithThePeer(Events2.Find(Data("drbd84-events2-waiting.txt"), "r1")!);
        var c = Assert.Single(s.Connections);
        Assert.Equal(DiskStates.DUnknown, Assert.Single(c.PeerVolumes).PeerDisk);
        Assert.True(s.Summary.PeerDiskAnyUnknown);
    }

    [Fact]
    public void Proc_drbd_84_gives_version_and_minors()
    {
        var proc = ProcDrbd.Parse(Data("drbd84-proc-drbd.txt"));
        Assert.Equal(8, proc.Version!.Value.Major);
        Assert.Equal(4, proc.Version!.Value.Minor);
        Assert.False(proc.Version!.Value.Is9OrLater);
        var r0 = proc.Resource("r0", [0]);
        Assert.True(r0.IsConfigured);
        Assert.Equal(DiskStates.UpToDate, r0.Volumes[0].Disk);
        Assert.False(proc.Resource("r7", [7]).IsConfigured);     // no such minor: not configured
    }

    [Fact]
    public void Proc_drbd_84_unconfigured_minor_and_peer_unknown()
    {
        var proc = ProcDrbd.Parse("""
            version: 8.4.11 (api:1/proto:86-101)
            srcversion: 211FB288A383ED945B83420

             0: cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown   r-----
                ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0
             1: cs:Unconfigured
            """);
        var r0 = proc.Resource("r0", [0]);
        Assert.Equal((Roles.Primary, Roles.Unknown, DiskStates.DUnknown), (r0.Role, r0.Connections[0].PeerRole, r0.Connections[0].PeerVolumes[0].PeerDisk));
        Assert.Equal((ScoreDecision.Kind.Set, 10000L), (Decide(r0).Action, Decide(r0).Value));   // Primary, UpToDate
        Assert.False(proc.Resource("r1", [1]).IsConfigured);
        Assert.True(DrbdVersion.TryParse("9.2.12-1", out var v) && v.Is9OrLater && v > proc.Version!.Value);
        Assert.False(DrbdVersion.TryParse("9.x", out _));
    }

    // ---- the promotion-score table (anchor: ocf:linbit:drbd drbd_update_master_score) ----------------

    private static ResourceStatus Res(string role, string disk, string? peerDisk = DiskStates.UpToDate, string peerRole = Roles.Secondary,
        bool client = false, bool quorum = true, bool peerClient = false) =>
        new("r0", role, [new Volume(0, 0, disk, client, quorum)],
            peerDisk is null ? [] : [new Connection(1, "b", peerDisk == DiskStates.DUnknown ? "StandAlone" : "Connected", peerRole,
                [new PeerVolume(0, "Established", peerDisk, peerClient)])]);

    public static TheoryData<string, ResourceStatus, ScoreDecision.Kind, long> Table => new()
    {
        { "Primary, UpToDate", Res(Roles.Primary, DiskStates.UpToDate), ScoreDecision.Kind.Set, 10000 },
        { "Primary, UpToDate, peer unknown", Res(Roles.Primary, DiskStates.UpToDate, DiskStates.DUnknown, Roles.Unknown), ScoreDecision.Kind.Set, 10000 },
        { "Secondary, UpToDate, peer known", Res(Roles.Secondary, DiskStates.UpToDate), ScoreDecision.Kind.Set, 10000 },
        { "Secondary, UpToDate, peer Outdated", Res(Roles.Secondary, DiskStates.UpToDate, DiskStates.Outdated), ScoreDecision.Kind.Set, 10000 },
        { "Secondary, UpToDate, peer unknown", Res(Roles.Secondary, DiskStates.UpToDate, DiskStates.DUnknown, Roles.Unknown), ScoreDecision.Kind.Set, 1000 },
        { "Inconsistent, peer UpToDate", Res(Roles.Secondary, DiskStates.Inconsistent), ScoreDecision.Kind.Set, 10 },
        { "Outdated, peer UpToDate", Res(Roles.Secondary, DiskStates.Outdated), ScoreDecision.Kind.Set, 10 },
        { "Attaching", Res(Roles.Secondary, DiskStates.Attaching, DiskStates.DUnknown), ScoreDecision.Kind.Leave, 0 },
        { "Negotiating", Res(Roles.Secondary, DiskStates.Negotiating, DiskStates.DUnknown), ScoreDecision.Kind.Leave, 0 },
        { "Consistent, peer unknown (0 is no score)", Res(Roles.Secondary, DiskStates.Consistent, DiskStates.DUnknown), ScoreDecision.Kind.Remove, 0 },
        { "Outdated, peer unknown", Res(Roles.Secondary, DiskStates.Outdated, DiskStates.DUnknown), ScoreDecision.Kind.Remove, 0 },
        { "Inconsistent, peer Inconsistent", Res(Roles.Secondary, DiskStates.Inconsistent, DiskStates.Inconsistent), ScoreDecision.Kind.Remove, 0 },
        { "Diskless (detached)", Res(Roles.Secondary, DiskStates.Diskless, DiskStates.DUnknown), ScoreDecision.Kind.Remove, 0 },
        { "Failed", Res(Roles.Secondary, DiskStates.Failed, DiskStates.DUnknown), ScoreDecision.Kind.Remove, 0 },
        { "no quorum", Res(Roles.Secondary, DiskStates.UpToDate, quorum: false), ScoreDecision.Kind.Remove, 0 },
        { "not configured", new ResourceStatus("r0", Roles.Unconfigured, [], []), ScoreDecision.Kind.Remove, 0 },
        { "diskless client, Primary, peer UpToDate", Res(Roles.Primary, DiskStates.Diskless, client: true), ScoreDecision.Kind.Set, 9999 },
        { "diskless client, peer UpToDate", Res(Roles.Secondary, DiskStates.Diskless, client: true), ScoreDecision.Kind.Set, 9999 },
        { "diskless client, peer unknown", Res(Roles.Secondary, DiskStates.Diskless, DiskStates.DUnknown, client: true), ScoreDecision.Kind.Remove, 0 },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Promotion_score_table(string why, ResourceStatus status, ScoreDecision.Kind kind, long score)
    {
        var d = Decide(status);
        Assert.True((kind, score) == (d.Action, d.Value), $"{why}: {d}");
    }

    [Fact]
    public void Diskless_client_with_one_of_two_peers_UpToDate_gets_local_ok_minus_one()
    {
        var s = new ResourceStatus("r0", Roles.Secondary, [new Volume(0, 0, DiskStates.Diskless, Client: true)],
        [
            new Connection(1, "b", "Connected", Roles.Secondary, [new PeerVolume(0, "Established", DiskStates.UpToDate)]),
            new Connection(2, "c", "Connected", Roles.Secondary, [new PeerVolume(0, "Established", DiskStates.Inconsistent)]),
        ]);
        Assert.Equal((ScoreDecision.Kind.Set, 999L), (Decide(s).Action, Decide(s).Value));
    }

    [Fact]
    public void A_healthy_Primary_peer_removes_the_score_only_as_the_policy_says()
    {
        var s = Res(Roles.Secondary, DiskStates.UpToDate, DiskStates.UpToDate, Roles.Primary);
        Assert.Equal(ScoreDecision.Kind.Set, Decide(s, PeerPrimaryPolicy.Ignore).Action);
        Assert.Equal(ScoreDecision.Kind.Remove, Decide(s, PeerPrimaryPolicy.Remove).Action);
        Assert.Equal(ScoreDecision.Kind.Set, Decide(s, PeerPrimaryPolicy.RemoveIfUnexpected, pacemakerKnowsPrimary: true).Action);
        Assert.Equal(ScoreDecision.Kind.Remove, Decide(s, PeerPrimaryPolicy.RemoveIfUnexpected, pacemakerKnowsPrimary: false).Action);
        Assert.Equal(ScoreDecision.Kind.Set, Decide(s, PeerPrimaryPolicy.RemoveIfUnexpected, pacemakerKnowsPrimary: false, promotedMax: 2).Action);
        Assert.Equal(DrbdDeviceAgent.PeerPolicy("unexpected"), PeerPrimaryPolicy.RemoveIfUnexpected);
        Assert.Equal(DrbdDeviceAgent.PeerPolicy(" True "), PeerPrimaryPolicy.Remove);
        Assert.Null(DrbdDeviceAgent.PeerPolicy("maybe"));
    }

    [Fact]
    public void Unfence_is_asked_for_only_by_a_Primary_with_every_disk_UpToDate()
    {
        Assert.True(Decide(Res(Roles.Primary, DiskStates.UpToDate)).Unfence);
        Assert.False(Decide(Res(Roles.Primary, DiskStates.UpToDate, DiskStates.DUnknown, Roles.Unknown)).Unfence);
        Assert.False(Decide(Res(Roles.Secondary, DiskStates.UpToDate)).Unfence);
    }

    [Theory]
    [InlineData("0 10 1000 10000", true, "")]
    [InlineData(" 5\t50 500  5000 ", true, "")]
    [InlineData("0 10 1000", false, "has 3 values, not 4")]
    [InlineData("0 10 1000 x", false, "has 'x', which is not a score between 0 and 1000000")]
    [InlineData("0 10 -1 10000", false, "has '-1', which is not a score between 0 and 1000000")]
    [InlineData("0 1000 10 10000", false, "decreases (1000 before 10)")]
    public void Adjust_master_score_is_four_rising_scores(string text, bool ok, string problem)
    {
        Assert.Equal(ok, ScoreValues.TryParse(text, out var values, out var why));
        Assert.Equal(problem, why);
        if (ok && text.Contains('5'))
            Assert.Equal(5000, Promotion.Decide(Res(Roles.Primary, DiskStates.UpToDate).Summary, values, PeerPrimaryPolicy.Ignore, 1, false, () => true).Value);
    }

    // ---- node names ---------------------------------------------------------------------------------

    [Theory]
    [InlineData("node1", "node1", true)]
    [InlineData("Node1", "node1", true)]                    // pacemaker compares without case
    [InlineData("node1", "node1.example.com", true)]        // corosync short, DRBD/uname qualified
    [InlineData("NODE1.example.com", "node1", true)]
    [InlineData("node1.example.com", "node1.example.org", false)]
    [InlineData("node1", "node10", false)]
    [InlineData("node1", "node2.example.com", false)]
    [InlineData("10.0.0.1", "10", false)]                   // addresses are never shortened
    [InlineData("", "", false)]
    [InlineData(null, "a", false)]
    public void Node_names_are_compared_as_pacemaker_corosync_and_drbd_spell_them(string? a, string? b, bool same)
    {
        Assert.Equal(same, NodeNames.Same(a, b));
        Assert.Equal(same, NodeNames.Same(b, a));
    }

    [Fact]
    public void A_node_name_matches_one_candidate_or_none()
    {
        Assert.Equal("a.lab", NodeNames.Match("a", ["a.lab", "b.lab"]));
        Assert.Equal("A", NodeNames.Match("a", ["A", "a.lab"]));        // exact (ignoring case) wins
        Assert.Null(NodeNames.Match("a", ["a.lab", "a.other"]));        // ambiguous
        Assert.Null(NodeNames.Match("c", ["a", "b"]));
    }

    [Fact]
    public void Stop_outdates_only_for_a_Primary_elsewhere_that_is_not_being_stopped()
    {
        Notification N(string promoted, string stop) => new OcfEnvironment(new Dictionary<string, string>
        {
            ["OCF_RESKEY_CRM_meta_notify_type"] = "post", ["OCF_RESKEY_CRM_meta_notify_operation"] = "stop",
            ["OCF_RESKEY_CRM_meta_notify_promoted_uname"] = promoted, ["OCF_RESKEY_CRM_meta_notify_promoted_resource"] = "d:0",
            ["OCF_RESKEY_CRM_meta_notify_stop_uname"] = stop, ["OCF_RESKEY_CRM_meta_notify_stop_resource"] = "d:1",
        }).Meta.Notification!;
        bool IsMe(string n) => NodeNames.Same(n, "a");
        Assert.Equal("b", DrbdResource.OutdateBecauseOf(N("b", "a"), IsMe));
        Assert.Null(DrbdResource.OutdateBecauseOf(N("b.lab", "b"), IsMe));   // the Primary itself is stopping
        Assert.Null(DrbdResource.OutdateBecauseOf(N("A.lab", "b"), IsMe));   // this node is the Primary
    }

    // ---- configuration (drbdadm dump-xml) -----------------------------------------------------------

    [Fact]
    public void Drbdadm_dump_xml_gives_hosts_minors_fencing_and_handlers()
    {
        var c = DrbdConfig.Parse(Data("drbd84-dump-xml.xml"), "r0");
        Assert.Equal(["vm", "b"], c.Hosts);
        Assert.Equal([0], c.Minors("b"));
        Assert.Equal([0], c.Minors("VM.lab"));
        Assert.Empty(c.Minors("c"));
        Assert.Equal("resource-only", c.Fencing);
        Assert.StartsWith("/usr/lib/drbd/kvmocf-fence-peer ", c.Handler("fence-peer"));
        Assert.False(c.AllowsTwoPrimaries);
        Assert.True(DrbdConfig.Parse(Data("drbd84-dump-xml-two-primaries.xml"), "r2").AllowsTwoPrimaries);
        Assert.Throws<FormatException>(() => DrbdConfig.Parse(Data("drbd84-dump-xml.xml"), "r9"));
    }

    // ---- parameters, meta attributes, metadata ------------------------------------------------------

    private static Dictionary<string, string> Env(params (string, string)[] extra)
    {
        var env = new Dictionary<string, string>
        {
            ["OCF_RESKEY_drbd_resource"] = "r0",
            ["OCF_RESKEY_CRM_meta_clone_max"] = "2", ["OCF_RESKEY_CRM_meta_clone_node_max"] = "1",
            ["OCF_RESKEY_CRM_meta_promoted_max"] = "1", ["OCF_RESKEY_CRM_meta_promoted_node_max"] = "1",
            ["OCF_RESKEY_CRM_meta_notify"] = "true",
        };
        foreach (var (k, v) in extra) env[k] = v;
        return env;
    }

    [Theory]
    [InlineData("OCF_RESKEY_drbd_resource", "-r0", "parameter 'drbd_resource': '-r0' must not begin with '-'")]
    [InlineData("OCF_RESKEY_drbd_resource", "r0;x", "parameter 'drbd_resource': 'r0;x' must only contain letters, digits and -%+./:=@_")]
    [InlineData("OCF_RESKEY_drbdconf", "/etc/drbd conf", "parameter 'drbdconf': '/etc/drbd conf' must only contain letters, digits and -%+./:=@_")]
    [InlineData("OCF_RESKEY_adjust_master_score", "1 2 3", "parameter 'adjust_master_score': '1 2 3' has 3 values, not 4")]
    [InlineData("OCF_RESKEY_remove_master_score_if_peer_primary", "maybe", "parameter 'remove_master_score_if_peer_primary': 'maybe' must be true, false or unexpected")]
    [InlineData("OCF_RESKEY_require_drbd_module_version_ge", "9", "parameter 'require_drbd_module_version_ge': '9' is not a version x.y.z")]
    [InlineData("OCF_RESKEY_CRM_meta_clone_node_max", "2", "meta attribute clone-node-max is 2; it must be 1")]
    [InlineData("OCF_RESKEY_CRM_meta_promoted_node_max", "2", "meta attribute promoted-node-max is 2; it must be 1")]
    [InlineData("OCF_RESKEY_CRM_meta_promoted_max", "3", "meta attribute promoted-max is 3; DRBD cannot safely have more than 2 Primaries")]
    [InlineData("OCF_RESKEY_CRM_meta_notify", "false", "the clone needs the meta attribute notify=true (or set ignore_missing_notifications=true)")]
    public void Start_refuses_a_bad_configuration_with_6_and_one_line(string name, string value, string reason)
    {
        var outcome = Outcome.Run(new DrbdDeviceAgent(), "start", Env((name, value)));
        Assert.Equal(6, outcome.ExitCode);
        Assert.Equal(reason, outcome.ExitReason);
        Assert.False(outcome.HasStackTrace);
    }

    [Fact]
    public void Validate_all_at_depth_0_checks_parameters_only_and_needs_no_meta_attributes()
    {
        Assert.Equal(0, Outcome.Run(new DrbdDeviceAgent(), "validate-all", new Dictionary<string, string> { ["OCF_RESKEY_drbd_resource"] = "r0" }).ExitCode);
        Assert.Equal(0, Outcome.Run(new DrbdDeviceAgent(), "validate-all", Env(("OCF_RESKEY_CRM_meta_notify", "false"))).ExitCode);
        var missing = Outcome.Run(new DrbdDeviceAgent(), "validate-all", new Dictionary<string, string>());
        Assert.Equal((6, "required parameter 'drbd_resource' is not set"), (missing.ExitCode, missing.ExitReason));
    }

    [Fact]
    public void Stop_and_probe_never_answer_6_for_a_tuning_typo()
    {
        // the runtime logs it and the action carries on; this machine has no DRBD module, so nothing of
        // DRBD runs here: stop succeeds and a probe says "not running"
        var env = Env(("OCF_RESKEY_adjust_master_score", "1 2 3"), ("OCF_RESKEY_CRM_meta_interval", "0"));
        if (File.Exists(ProcDrbd.Path)) return;   // a machine with DRBD loaded: the real-stack tests cover it
        Assert.Equal(0, Outcome.Run(new DrbdDeviceAgent(), "stop", env).ExitCode);
        Assert.Equal(7, Outcome.Run(new DrbdDeviceAgent(), "monitor", env).ExitCode);
    }

    [Fact]
    public void Parameters_are_ocf_linbit_drbds_with_its_defaults()
    {
        var agent = new DrbdDeviceAgent();
        Assert.Empty(agent.Parameters.SelectMany(p => p.DeclarationErrors()));
        var root = Xml.Parse(Metadata.Xml(agent));
        var parameters = root.Descendants("parameter").ToDictionary(p => p.Attribute("name")!, p => p.Element("content")!);
        var linbit = new Dictionary<string, string?>
        {
            ["drbd_resource"] = null, ["drbdconf"] = "/etc/drbd.conf", ["adjust_master_score"] = "0 10 1000 10000",
            ["stop_outdates_secondary"] = "false", ["ignore_missing_notifications"] = "false", ["wfc_timeout"] = "5",
            ["remove_master_score_if_peer_primary"] = "false", ["fail_promote_early_if_peer_primary"] = "false",
            ["unfence_if_all_uptodate"] = "false", ["unfence_extra_args"] = "--quiet --flock-required --flock-timeout 0 --unfence-only-if-owner-match",
            ["require_drbd_module_version_ge"] = "8.0.0", ["require_drbd_module_version_lt"] = "10.0.0", ["connect_only_after_promote"] = "false",
        };
        Assert.Equal(linbit.Keys.Order(), parameters.Keys.Order());
        foreach (var (name, value) in linbit) Assert.Equal(value, parameters[name].Attribute("default"));
        // pcs refuses the anchor's "numeric" (LINBIT/drbd-utils#18); unfence_extra_args is text, not a boolean
        Assert.DoesNotContain(parameters.Values, c => c.Attribute("type") == "numeric");
        Assert.Equal("string", parameters["unfence_extra_args"].Attribute("type"));
        var actions = root.Descendants("action").Select(a => (a.Attribute("name"), a.Attribute("role"))).ToList();
        foreach (var action in new[] { "start", "stop", "promote", "demote", "notify", "reload", "validate-all", "meta-data" })
            Assert.Contains(actions, a => a.Item1 == action);
        Assert.Contains(("monitor", "Promoted"), actions);
        Assert.Contains(("monitor", "Unpromoted"), actions);
    }
}
