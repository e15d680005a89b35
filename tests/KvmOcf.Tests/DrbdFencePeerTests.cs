using KvmOcf.DrbdFencePeer;

namespace KvmOcf.Tests;

/// <summary>The fence-peer handler's decisions, without I/O: crm-fence-peer.9.sh's command line and
/// exit-code contract (3 peer outdated, 4 constraint placed, 5 peer unreachable, 6 outdate yourself,
/// 7 peer fenced, 1 failure), the constraint's XML, and the CIB as XML.</summary>
public class DrbdFencePeerTests
{
    private static LocalState Local(bool primary = true, bool upToDate = true, bool consistent = true, bool peerUpToDate = false,
        bool peerOutdated = false) => new(false, primary, consistent, upToDate, peerUpToDate, peerOutdated, upToDate ? "UpToDate" : "Consistent");

    // local disk: U = UpToDate, C = Consistent only; P = the peer's disks UpToDate (again), O = the peer already Outdated
    [Theory]
    [InlineData("peer alive, only the link is down", true, "U", "Reachable", false, 4, true)]
    [InlineData("peer alive, my disk only Consistent", true, "C", "Reachable", false, 4, true)]
    [InlineData("peer cleanly down (fenced)", true, "U", "Fenced", false, 7, true)]
    [InlineData("peer unclean, my disk UpToDate", true, "U", "Unreachable", false, 5, true)]
    [InlineData("peer unknown at the timeout, my disk UpToDate", true, "U", "Unknown", false, 5, true)]
    [InlineData("peer unclean, my disk only Consistent", true, "C", "Unreachable", false, 5, false)]
    [InlineData("peer unclean, Consistent, forced by option", true, "C", "Unreachable", true, 5, true)]
    [InlineData("peer already Outdated", true, "UO", "Reachable", false, 3, false)]
    [InlineData("peer disks UpToDate again", true, "UP", "Reachable", false, 1, false)]
    [InlineData("no quorum", false, "U", "Reachable", false, 1, false)]
    [InlineData("no DC", true, "C", "DcUnreachable", false, 5, false)]
    [InlineData("two peers, one fenced, one reachable", true, "U", "Fenced Reachable", false, 5, true)]
    public void Exit_code_contract(string why, bool quorum, string disks, string peers, bool forced, int code, bool place)
    {
        var local = Local(upToDate: disks.Contains('U'), peerUpToDate: disks.Contains('P'), peerOutdated: disks.Contains('O'));
        var outcome = Decisions.Place(quorum, local, [.. peers.Split(' ').Select(Enum.Parse<PeerState>)], forced);
        Assert.True((code, place) == (outcome.ExitCode, outcome.Place), $"{why}: {outcome}");
    }

    [Fact]
    public void Unconfigured_local_resource_fails_without_placing()
    {
        var outcome = Decisions.Place(true, new LocalState(true, false, false, false, false, false, ""), [PeerState.Reachable], false);
        Assert.Equal((1, false), (outcome.ExitCode, outcome.Place));
    }

    private static readonly FencingConstraint Wanted =
        new("drbd-fence-by-handler-r0-ms_r0", "ms_r0", "Promoted", [("#uname", "a")]);

    [Fact]
    public void An_existing_constraint_is_kept_or_answered_with_6()
    {
        Assert.Null(Decisions.OnExisting(null, Wanted, false, true));
        Assert.Equal(4, Decisions.OnExisting(Wanted with { Role = "Master", Allowed = [("#uname", "A")] }, Wanted, false, true)!.Value.ExitCode);
        var theirs = Wanted with { Allowed = [("#uname", "b")] };
        Assert.Equal(6, Decisions.OnExisting(theirs, Wanted, rejectsMe: true, primary: false)!.Value.ExitCode);   // the peer fenced me first
        Assert.Equal(1, Decisions.OnExisting(theirs, Wanted, rejectsMe: true, primary: true)!.Value.ExitCode);    // ... while I am Primary
        Assert.Null(Decisions.OnExisting(Wanted with { Allowed = [("#uname", "a"), ("#uname", "c")] }, Wanted, false, true));
    }

    [Theory]
    [InlineData(true, 1, true, true)]
    [InlineData(true, 1, false, false)]
    [InlineData(false, 1, true, false)]
    [InlineData(true, 4, true, false)]
    [InlineData(true, 5, true, false)]
    public void Suicide_only_on_request_on_a_Primary_that_failed(bool requested, int code, bool primary, bool suicide) =>
        Assert.Equal(suicide, Decisions.Suicide(requested, code, primary));

    [Fact]
    public void The_constraint_is_cibadmin_xml_that_reads_back_the_same()
    {
        var c = new FencingConstraint("drbd-fence-by-handler-r0-ms_r0", "ms_r0", "Promoted", [("#uname", "a&b\"<c>")]);
        var xml = Xml.Parse(c.ToXml("drbd-fence-by-handler-r0"));
        Assert.Equal(("rsc_location", "ms_r0", "drbd-fence-by-handler-r0-ms_r0"), (xml.Name, xml.Attribute("rsc"), xml.Attribute("id")));
        var rule = Assert.Single(xml.Elements("rule"));
        Assert.Equal(("Promoted", "-INFINITY", "drbd-fence-by-handler-r0-rule-ms_r0"), (rule.Attribute("role"), rule.Attribute("score"), rule.Attribute("id")));
        var expression = Assert.Single(rule.Elements("expression"));
        Assert.Equal(("#uname", "ne", "a&b\"<c>"), (expression.Attribute("attribute"), expression.Attribute("operation"), expression.Attribute("value")));
        var back = FencingConstraint.From(xml)!;
        Assert.True(back.Equivalent(c));
        Assert.True(back.Rejects("b", (_, _) => null));
        Assert.False(back.Rejects("a&b\"<c>", (_, _) => null));
    }

    [Fact]
    public void A_constraint_that_is_not_of_the_handlers_shape_is_not_its_to_change()
    {
        Assert.Null(FencingConstraint.From(Xml.Parse("""<rsc_location id="x" rsc="ms"><rule score="100" role="Promoted"><expression attribute="#uname" operation="ne" value="a"/></rule></rsc_location>""")));
        Assert.Null(FencingConstraint.From(Xml.Parse("""<rsc_location id="x" rsc="ms"><rule score="-INFINITY"><expression attribute="#uname" operation="eq" value="a"/></rule></rsc_location>""")));
        Assert.Null(FencingConstraint.From(Xml.Parse("""<rsc_location id="x" rsc="ms" node="a" score="-INFINITY"/>""")));
    }

    [Fact]
    public void Restricting_further_never_lifts_an_exclusion()
    {
        var two = Wanted with { Allowed = [("#uname", "a"), ("#uname", "c")] };
        Assert.Equal([("#uname", "a")], two.Without([("#uname", "C")]).Allowed);
    }

    private const string CibXml = """
        <cib validate-with="pacemaker-3.9" have-quorum="1" epoch="5" num_updates="0" admin_epoch="0">
          <configuration>
            <crm_config><cluster_property_set id="cib-bootstrap-options">
              <nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
            <nodes>
              <node id="1" uname="a"><instance_attributes id="a-ia"><nvpair id="a-site" name="site" value="left"/></instance_attributes></node>
              <node id="2" uname="b"/>
              <node id="3" uname="q" type="ping"/>
            </nodes>
            <resources>
              <clone id="ms_drbd_r0">
                <meta_attributes id="m"><nvpair id="m1" name="promotable" value="true"/></meta_attributes>
                <primitive id="drbd_r0" class="ocf" provider="kvmocf" type="DrbdDevice">
                  <instance_attributes id="ia"><nvpair id="ia1" name="drbd_resource" value="r0"/></instance_attributes>
                </primitive>
              </clone>
            </resources>
            <constraints>
              <rsc_location id="drbd-fence-by-handler-r0-ms_drbd_r0" rsc="ms_drbd_r0">
                <rule role="Promoted" score="-INFINITY" id="drbd-fence-by-handler-r0-rule-ms_drbd_r0">
                  <expression attribute="#uname" operation="ne" value="a" id="drbd-fence-by-handler-r0-expr-0-ms_drbd_r0"/>
                </rule>
              </rsc_location>
            </constraints>
          </configuration>
          <status>
            <node_state id="1" uname="a" in_ccm="true" crmd="online" join="member" expected="member"/>
            <node_state id="2" uname="b" in_ccm="false" crmd="offline" join="down" expected="down"/>
          </status>
        </cib>
        """;

    [Fact]
    public void The_cib_is_read_as_xml()
    {
        var cib = Cib.Parse(CibXml);
        Assert.True(cib.HaveQuorum);
        Assert.True(cib.KnowsPromotedRole);
        Assert.Equal(["a", "b"], cib.Nodes);
        Assert.Equal("left", cib.NodeAttribute("a", "site"));
        Assert.Equal("ms_drbd_r0", cib.CloneOf("r0"));
        Assert.Null(cib.CloneOf("r1"));
        Assert.False(cib.PropertyNotFalse("stonith-enabled"));
        Assert.True(cib.PropertyNotFalse("startup-fencing"));
        var c = cib.Constraint("drbd-fence-by-handler-r0-ms_drbd_r0")!;
        Assert.True(c.Rejects("b", cib.NodeAttribute));
        Assert.False(c.Rejects("a", cib.NodeAttribute));
        var b = cib.StateOf("b")!;
        Assert.Equal((false, false, true), (b.InMembership, b.ControllerOnline, b.ExpectedDown));
        Assert.Throws<FormatException>(() => Cib.Parse("<status/>"));
        Assert.False(Cib.Parse("""<cib validate-with="pacemaker-3.0"/>""").KnowsPromotedRole);
    }

    [Fact]
    public void Pacemaker_will_fence_a_node_that_left_uncleanly_only_with_stonith()
    {
        var clean = new NodeState("b", "false", "offline", "down", "down");
        var unclean = new NodeState("b", "false", "offline", "member", "down");
        var timestamps = new NodeState("b", "1700000000", "1700000000", "member", "member");   // pacemaker ≥ 2.1.7 spelling
        Assert.False(Handler.WillFence(clean, stonithEnabled: true, startupFencing: true));
        Assert.True(Handler.WillFence(unclean, stonithEnabled: true, startupFencing: true));
        Assert.False(Handler.WillFence(unclean, stonithEnabled: false, startupFencing: true));
        Assert.False(Handler.WillFence(timestamps, stonithEnabled: true, startupFencing: true));
        Assert.True(Handler.WillFence(null, stonithEnabled: true, startupFencing: true));
    }

    [Fact]
    public void Unfence_removes_only_a_constraint_once_everything_is_UpToDate()
    {
        var all = Local(peerUpToDate: true);
        Assert.Equal(UnfenceAction.None, Decisions.Unfence(null, false, false, all, null).Action);
        Assert.Equal(UnfenceAction.Remove, Decisions.Unfence(Wanted, false, false, all, null).Action);
        Assert.Equal(UnfenceAction.None, Decisions.Unfence(Wanted, false, false, Local(), null).Action);
        Assert.Equal(UnfenceAction.None, Decisions.Unfence(Wanted, ownerMatchRequired: true, rejectsMe: true, all, null).Action);
        Assert.Equal(UnfenceAction.Replace, Decisions.Unfence(Wanted, false, false, Local(), Wanted with { Allowed = [("#uname", "a"), ("#uname", "c")] }).Action);
    }

    [Fact]
    public void Options_are_crm_fence_peers()
    {
        var o = HandlerOptions.Parse(["--timeout=30", "--dc-timeout", "10", "--net-hickup=5", "-a", "site", "-p", "my-prefix", "-l", "Master",
            "--suicide-on-failure-if-primary", "--unreachable-peer-is-outdated", "--bogus", "-t", "x"], "--quiet --flock-timeout 0", interactive: false);
        Assert.Equal((TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5)), (o.Timeout, o.DcTimeout, o.NetHickup));
        Assert.Equal(("site", "my-prefix", "Master"), (o.FencingAttribute, o.IdPrefix, o.Role));
        Assert.True(o.SuicideOnFailureIfPrimary && o.Quiet);
        Assert.False(o.UnreachablePeerIsOutdated);   // "This is NOT to be scripted": honoured only on a terminal
        Assert.Equal(TimeSpan.Zero, o.FlockTimeout);
        Assert.Equal(["--bogus", "-t x (not a number of seconds)"], o.Ignored);
        Assert.Equal("my-prefix-r0", o.PrefixFor("r0"));
        Assert.Equal("x-r0", new HandlerOptions { IdPrefix = "x-r0" }.PrefixFor("r0"));
        Assert.Equal("/var/lock/drbd/fence.r0", new HandlerOptions().LockPath("r0"));
        Assert.Null(new HandlerOptions { LockFile = "NONE" }.LockPath("r0"));
        var defaults = HandlerOptions.Parse([], null, interactive: true);
        Assert.Equal((TimeSpan.FromSeconds(90), TimeSpan.FromSeconds(20), "#uname", "drbd-fence-by-handler"),
            (defaults.Timeout, defaults.DcTimeout, defaults.FencingAttribute, defaults.IdPrefix));
    }
}
