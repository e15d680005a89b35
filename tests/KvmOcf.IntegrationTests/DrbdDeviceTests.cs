using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>ocf:kvmocf:DrbdDevice and the fence-peer handler on real DRBD 8.4, in the two QEMU guests
/// of <see cref="DrbdLab"/>: r1 on guest a alone, r0 as a pair the tests drive by hand, r2 as a
/// promotable clone under the guests' own pacemaker.</summary>
[Collection(DrbdCollection.Name)]
[Trait("Stack", "drbd")]
public sealed class DrbdDeviceTests(DrbdLab lab)
{
    private static readonly Dictionary<string, string> CloneMeta = new()
    {
        ["OCF_RESKEY_CRM_meta_clone_max"] = "2", ["OCF_RESKEY_CRM_meta_clone_node_max"] = "1",
        ["OCF_RESKEY_CRM_meta_promoted_max"] = "1", ["OCF_RESKEY_CRM_meta_promoted_node_max"] = "1",
        ["OCF_RESKEY_CRM_meta_notify"] = "true",
    };

    private static Dictionary<string, string> Params(string resource, string instance, params (string, string)[] extra)
    {
        var p = new Dictionary<string, string>(CloneMeta) { ["drbd_resource"] = resource, ["OCF_RESOURCE_INSTANCE"] = instance };
        foreach (var (k, v) in extra) p[k] = v;
        return p;
    }

    private static readonly (string, string) Probe = ("OCF_RESKEY_CRM_meta_interval", "0");
    private static readonly (string, string) Recurring = ("OCF_RESKEY_CRM_meta_interval", "10000");

    [Fact]
    public void Single_node_start_promote_demote_stop_and_monitor_per_role()
    {
        lab.Exec("a", "drbdadm down r1");
        lab.Ok("a", "yes yes | drbdadm create-md --force r1 >/dev/null 2>&1");    // fresh metadata: Inconsistent
        var p = Params("r1", "drbd_r1", ("wfc_timeout", "1"));                  // r1 never has a peer to wait for
        AgentRun Run(string action, params (string, string)[] extra) =>
            lab.Run("a", action, new Dictionary<string, string>(p).Also(extra));

        Assert.Equal(7, Run("monitor", Probe).Code);
        Assert.Equal(1, Run("promote").Code);                                      // not started
        var start = Run("start");
        Assert.True(start.Code == 0, start.ToString());
        Assert.Contains("ro:Secondary", lab.State("a", 1));
        Assert.Equal(0, Run("monitor", Recurring).Code);
        Assert.Null(lab.PromotionScore("a", "drbd_r1"));                            // Inconsistent: no score
        var refused = Run("promote", ("OCF_RESKEY_CRM_meta_timeout", "20000"));     // DRBD refuses: exit 17, at once
        Assert.Equal(1, refused.Code);
        Assert.Contains("without access to UpToDate data", refused.ExitReason);

        lab.Ok("a", "drbdadm primary --force r1 && drbdadm secondary r1");          // the admin's first "this data is good"
        Assert.Equal(0, Run("monitor", Recurring).Code);
        Assert.True(Sh.Eventually(() => lab.PromotionScore("a", "drbd_r1") == "1000", TimeSpan.FromSeconds(20)));   // UpToDate, peer unknown
        Assert.Equal(0, Run("start").Code);                                         // already started
        Assert.Equal(0, Run("promote").Code);
        Assert.Contains("ro:Primary", lab.State("a", 1));
        Assert.Equal(8, Run("monitor", Recurring).Code);
        Assert.Equal(8, Run("monitor", Probe).Code);
        Assert.Equal(0, Run("promote").Code);                                       // already Primary
        Assert.Equal(0, Run("demote").Code);
        Assert.Contains("ro:Secondary", lab.State("a", 1));
        Assert.Equal(0, Run("monitor", Recurring).Code);
        Assert.Equal(0, Run("stop").Code);
        Assert.DoesNotContain("ro:", lab.State("a", 1));                           // really down
        Assert.Null(lab.PromotionScore("a", "drbd_r1"));                            // stop removes the score
        Assert.Equal(0, Run("stop").Code);
        Assert.Equal(7, Run("monitor", Recurring).Code);
        Assert.Equal(7, Run("monitor", Probe).Code);
        Assert.Equal(1, Run("demote").Code);                                        // not started

        // a Primary at stop is demoted first, and the stop says so only once it is down
        Assert.Equal(0, Run("start").Code);
        lab.Ok("a", "drbdadm primary r1");
        Assert.Equal(0, Run("stop").Code);
        Assert.DoesNotContain("ro:", lab.State("a", 1));
    }

    [Fact]
    public void Start_with_an_unreadable_configuration_is_an_error_while_the_resource_is_up_else_not_installed()
    {
        lab.Exec("a", "drbdadm down r1");
        // a configuration drbdadm cannot parse: this node cannot read what r1 is
        lab.Ok("a", "printf 'resource r1 {\\n  device /dev/drbd1;\\n' > /tmp/broken.conf");
        var broken = Params("r1", "drbd_r1", ("drbdconf", "/tmp/broken.conf"), ("wfc_timeout", "1"));
        try
        {
            lab.Ok("a", "drbdadm up r1");                                           // up in the kernel
            var up = lab.Run("a", "start", broken);
            Assert.True(up.Code == 1, up.ToString());                               // OCF_ERR_GENERIC: pacemaker recovers with stop
            Assert.StartsWith("r1 is up in the kernel, but DRBD resource r1 is not in /tmp/broken.conf", up.ExitReason);   // (pacemaker keeps 128 bytes)
            Assert.Contains("ro:", lab.State("a", 1));                              // left as it was
            lab.Ok("a", "drbdadm down r1");
            var down = lab.Run("a", "start", broken);
            Assert.True(down.Code == 5, down.ToString());                           // OCF_ERR_INSTALLED: not on this node
            Assert.DoesNotContain("ro:", lab.State("a", 1));
            var missing = lab.Run("a", "start", Params("r1", "drbd_r1", ("drbdconf", "/tmp/no-such.conf")));
            Assert.True(missing.Code == 5, missing.ToString());
        }
        finally { lab.Exec("a", "drbdadm down r1; rm -f /tmp/broken.conf"); }
    }

    /// <summary>r0 down on both guests with fresh metadata (blank disks) and no promotion score.</summary>
    private void FreshPair()
    {
        foreach (var n in new[] { "a", "b" })
            lab.Exec(n, $"drbdadm secondary r0; drbdadm down r0; yes yes | drbdadm create-md --force r0 >/dev/null 2>&1; crm_attribute --promotion=drbd_r0 --node {n} --delete");
        foreach (var n in new[] { "a", "b" }) Assert.True(Sh.Eventually(() => lab.PromotionScore(n, "drbd_r0") is null, TimeSpan.FromSeconds(20)));
    }

    /// <summary>r0 from fresh metadata up on both guests by the agent, connected, both UpToDate, neither Primary.</summary>
    private void PairUpToDate(Func<string, string, AgentRun> run)
    {
        FreshPair();
        foreach (var n in new[] { "a", "b" }) Assert.Equal(0, run(n, "start").Code);
        Assert.True(lab.WaitFor("a", 0, TimeSpan.FromSeconds(60), "cs:Connected"), lab.State("a", 0));
        lab.Ok("a", "drbdadm -- --clear-bitmap new-current-uuid r0");                // blank disks: no initial sync
        Assert.True(lab.WaitFor("b", 0, TimeSpan.FromSeconds(90), "ds:UpToDate/UpToDate"), lab.State("b", 0));
    }

    /// <summary>drbdadm get-gi's "data was/is up-to-date" flag, from the metadata of a resource that is down.</summary>
    private bool MetadataUpToDate(string node) =>
        lab.Ok(node, "drbdadm get-gi r0").StandardOutput.Trim().Split(':') is var f && f.Length > 5 && f[5] == "1";

    [Fact]
    public void Stop_outdates_a_disconnected_secondary_when_pacemaker_says_the_peer_is_primary()
    {
        // what pacemaker gives a clone's stop besides the notify action itself: no notify_type
        (string, string)[] StopOfB(bool outdate) =>
        [
            ("stop_outdates_secondary", outdate ? "true" : "false"),
            ("OCF_RESKEY_CRM_meta_notify_promoted_resource", "drbd_r0:0"), ("OCF_RESKEY_CRM_meta_notify_promoted_uname", "a"),
            ("OCF_RESKEY_CRM_meta_notify_active_resource", "drbd_r0:0 drbd_r0:1"), ("OCF_RESKEY_CRM_meta_notify_active_uname", "a b"),
            ("OCF_RESKEY_CRM_meta_notify_stop_resource", "drbd_r0:1"), ("OCF_RESKEY_CRM_meta_notify_stop_uname", "b"),
        ];
        AgentRun Run(string node, string action, params (string, string)[] more) => lab.Run(node, action, Params("r0", "drbd_r0", more));
        try
        {
            foreach (var outdate in new[] { false, true })
            {
                PairUpToDate((n, a) => Run(n, a));
                Assert.Equal(0, Run("a", "promote").Code);
                lab.Ok("b", "drbdadm disconnect r0");                                  // b loses its peer
                Assert.True(lab.WaitFor("b", 0, TimeSpan.FromSeconds(30), "ro:Secondary/Unknown", "ds:UpToDate/DUnknown"), lab.State("b", 0));
                var stop = Run("b", "stop", StopOfB(outdate));
                Assert.True(stop.Code == 0, stop.ToString());
                Assert.DoesNotContain("ro:", lab.State("b", 0));
                Assert.Equal(!outdate, MetadataUpToDate("b"));                        // outdated only with the parameter
                Assert.Equal(0, Run("a", "demote").Code);
            }
            // the outdated side resyncs from the peer when it comes back
            lab.Ok("b", "drbdadm up r0");
            Assert.True(lab.WaitFor("b", 0, TimeSpan.FromSeconds(90), "cs:Connected", "ds:UpToDate/UpToDate"), lab.State("b", 0));
        }
        finally { FreshPair(); }
    }

    [Fact]
    public void Fail_promote_early_if_a_primary_peer_pacemaker_does_not_know_of()
    {
        // pacemaker knows drbd_r0 (a stopped stand-in, so crm_resource --locate answers) and has it promoted nowhere
        lab.Ok("a", "cibadmin --create --scope resources --xml-text '<primitive id=\"drbd_r0\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">" +
            "<meta_attributes id=\"drbd_r0-meta\"><nvpair id=\"drbd_r0-role\" name=\"target-role\" value=\"Stopped\"/></meta_attributes></primitive>'");
        AgentRun Run(string node, string action, params (string, string)[] more) => lab.Run(node, action, Params("r0", "drbd_r0", more));
        try
        {
            PairUpToDate((n, a) => Run(n, a));
            Assert.Equal(0, Run("b", "monitor", Recurring).Code);
            Assert.True(Sh.Eventually(() => lab.PromotionScore("b", "drbd_r0") == "10000", TimeSpan.FromSeconds(20)));
            lab.Ok("a", "drbdadm primary r0");                                         // behind pacemaker's back
            Assert.True(lab.WaitFor("b", 0, TimeSpan.FromSeconds(30), "ro:Secondary/Primary"), lab.State("b", 0));

            var early = Run("b", "promote", ("fail_promote_early_if_peer_primary", "true"), ("OCF_RESKEY_CRM_meta_timeout", "60000"));
            Assert.True(early.Code == 1, early.ToString());
            Assert.Contains("already (or still) Primary", early.ExitReason);
            Assert.True(early.Elapsed < TimeSpan.FromSeconds(45), $"took {early.Elapsed}");    // not the whole timeout
            Assert.Null(lab.PromotionScore("b", "drbd_r0"));                           // and gives up its score
            Assert.Contains("ro:Secondary/Primary", lab.State("b", 0));

            var retrying = Run("b", "promote", ("OCF_RESKEY_CRM_meta_timeout", "20000"));   // without it: retries until the timeout
            Assert.Equal(1, retrying.Code);
            Assert.DoesNotContain("already (or still) Primary", retrying.ExitReason ?? "");
        }
        finally
        {
            lab.Exec("a", "cibadmin --delete --xml-text '<primitive id=\"drbd_r0\"/>'");
            FreshPair();
        }
    }

    [Fact]
    public void Unfence_if_all_uptodate_runs_the_unfence_peer_handler_on_a_primary_with_every_disk_uptodate()
    {
        // r0 as configured plus an unfence-peer handler that records its calls, in a configuration of the
        // test's own (drbdconf): drbdadm-84 runs it for "drbdadm unfence-peer" (the 8.4 kernel never does)
        const string conf = "/tmp/r0-unfence.conf";
        foreach (var n in new[] { "a", "b" })
            lab.Ok(n, $$"""
                printf '#!/bin/sh\necho "$DRBD_RESOURCE $OCF_RESKEY_unfence_extra_args" >> /tmp/unfenced\n' > /tmp/unfence.sh
                chmod 755 /tmp/unfence.sh; rm -f /tmp/unfenced
                { echo 'global { usage-count no; }'; sed 's|^  device|  handlers { unfence-peer "/tmp/unfence.sh"; }\n  device|' /etc/drbd.d/r0.res; } > {{conf}}
                drbdadm -c {{conf}} dump r0 | grep -q unfence-peer
                """);
        AgentRun Run(string node, string action, params (string, string)[] more) =>
            lab.Run(node, action, Params("r0", "drbd_r0", [("drbdconf", conf), .. more]));
        string[] Unfenced() => lab.Exec("a", "cat /tmp/unfenced 2>/dev/null").StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        try
        {
            PairUpToDate((n, a) => Run(n, a));
            Assert.Equal(0, Run("a", "promote").Code);
            Assert.Equal(8, Run("a", "monitor", Recurring).Code);
            Assert.Empty(Unfenced());                                                  // off by default
            Assert.Equal(8, Run("a", "monitor", Recurring, ("unfence_if_all_uptodate", "true"), ("unfence_extra_args", "--quiet")).Code);
            Assert.Equal(["r0 --quiet"], Unfenced());                                  // the handler, with the extra args
            Assert.Equal(0, Run("b", "monitor", Recurring, ("unfence_if_all_uptodate", "true")).Code);
            Assert.Single(Unfenced());                                                 // never on a Secondary
            lab.Ok("b", "drbdadm disconnect r0");
            Assert.True(lab.WaitFor("a", 0, TimeSpan.FromSeconds(30), "ds:UpToDate/DUnknown"), lab.State("a", 0));
            Assert.Equal(8, Run("a", "monitor", Recurring, ("unfence_if_all_uptodate", "true")).Code);
            Assert.Single(Unfenced());                                                 // nor with the peer's disk unknown
        }
        finally { FreshPair(); }
    }

    [Fact]
    public void Ocf_tester_passes_every_check_but_the_ocf_1_0_dtd()
    {
        lab.Exec("a", "drbdadm down r1");
        lab.Ok("a", "drbdadm up r1 && drbdadm primary --force r1 && drbdadm secondary r1 && drbdadm down r1");
        var run = lab.Exec("a", $"ocf-tester -v -n drbd_r1 -o drbd_resource=r1 {DrbdLab.Agent}", TimeSpan.FromMinutes(5));
        OcfTester.AssertOnlyTheDtdCheckFails(run);
        Assert.Contains("Testing: demotion of started resource", run.StandardOutput);
        Assert.DoesNotContain("ro:", lab.State("a", 1));
    }

    [Fact]
    public void Pair_promotion_scores_follow_the_disk_states_and_are_written_once()
    {
        var nodes = new[] { "a", "b" };
        FreshPair();                                                                // whatever r0 went through before
        // the recording crm_attribute first in PATH: it counts the calls, the guests' pacemaker keeps the score
        var extra = new Dictionary<string, string> { ["PATH"] = $"{DrbdLab.RecordingPath}:/usr/sbin:/usr/bin:/sbin:/bin" };
        AgentRun Run(string node, string action, params (string, string)[] more) =>
            lab.Run(node, action, Params("r0", "drbd_r0", more), null, extra);
        List<string> Writes(string node) => lab.TakeCalls(node).Where(c => c.Contains("--update") || c.Contains("--delete")).ToList();
        void Monitor(string node, string? score)
        {
            // twice: the second finds the score in place and must not write it again
            for (int i = 0; i < 2; i++)
            {
                var m = Run(node, "monitor", Recurring);
                Assert.True(m.Code is 0 or 8, m.ToString());
                Assert.True(Sh.Eventually(() => lab.PromotionScore(node, "drbd_r0") == score, TimeSpan.FromSeconds(20)),
                    $"{node}: score {lab.PromotionScore(node, "drbd_r0")}, expected {score ?? "none"} ({lab.State(node, 0)})");
            }
        }
        foreach (var n in nodes) { Assert.Equal(0, Run(n, "start").Code); lab.TakeCalls(n); }
        Assert.True(lab.WaitFor("a", 0, TimeSpan.FromSeconds(60), "cs:Connected"), lab.State("a", 0));
        lab.Ok("a", "drbdadm -- --clear-bitmap new-current-uuid r0");                // blank disks: no initial sync
        Assert.True(lab.WaitFor("b", 0, TimeSpan.FromSeconds(30), "ds:UpToDate/UpToDate"), lab.State("b", 0));

        foreach (var n in nodes) Monitor(n, "10000");                              // UpToDate, peer known
        foreach (var n in nodes) Assert.Equal(["--promotion=drbd_r0 --update 10000"], Writes(n));

        // promote on a; b refuses while a is Primary; swap with the data intact
        Assert.Equal(0, Run("a", "promote").Code);
        lab.Ok("a", "dd if=/dev/urandom of=/dev/drbd0 bs=1M count=1 oflag=direct 2>/dev/null");
        var written = lab.Checksum("a", 0);
        var refused = Run("b", "promote", ("OCF_RESKEY_CRM_meta_timeout", "15000"));
        Assert.Equal(1, refused.Code);
        Assert.Contains("ro:Secondary", lab.State("b", 0));
        Assert.Equal(8, Run("a", "monitor", Recurring).Code);
        Assert.Equal(0, Run("a", "demote").Code);
        Assert.Equal(0, Run("b", "promote").Code);
        Assert.Equal(written, lab.Checksum("b", 0));
        Assert.Equal(0, Run("b", "demote").Code);
        foreach (var n in nodes) Writes(n);

        // b loses its disk, gets it back, is invalidated (resync paused half-way), resyncs
        lab.Ok("b", "drbdadm detach r0");
        Monitor("b", "10");                                                         // Diskless, reads from the UpToDate peer
        Monitor("a", "10000");                                                      // the peer's disk is known (Diskless)
        Assert.Equal(["--promotion=drbd_r0 --update 10"], Writes("b"));
        Assert.Empty(Writes("a"));
        lab.Ok("b", "drbdadm attach r0");
        Assert.True(lab.WaitFor("b", 0, TimeSpan.FromSeconds(30), "ds:UpToDate/UpToDate"), lab.State("b", 0));
        Monitor("b", "10000");
        lab.Ok("b", "drbdadm pause-sync r0; drbdadm invalidate r0");
        Assert.True(lab.WaitFor("b", 0, TimeSpan.FromSeconds(30), "ds:Inconsistent/UpToDate"), lab.State("b", 0));
        Monitor("b", "10");                                                         // only the peer is UpToDate
        lab.Ok("b", "drbdadm resume-sync r0");
        Assert.True(lab.WaitFor("b", 0, TimeSpan.FromSeconds(90), "ds:UpToDate/UpToDate"), lab.State("b", 0));
        Monitor("b", "10000");
        Assert.Equal(["--promotion=drbd_r0 --update 10000", "--promotion=drbd_r0 --update 10", "--promotion=drbd_r0 --update 10000"], Writes("b"));
        Assert.Equal(0, Run("b", "promote").Code);                                  // a Secondary's device cannot be read
        Assert.Equal(written, lab.Checksum("b", 0));
        Assert.Equal(0, Run("b", "demote").Code);
        Writes("b");

        // disconnected: a's score drops to "peer unknown"; b outdates itself and loses its score
        lab.Ok("b", "drbdadm disconnect r0 && drbdadm outdate r0");
        Monitor("a", "1000");
        Monitor("b", null);
        Assert.Equal(["--promotion=drbd_r0 --delete"], Writes("b"));
        foreach (var n in nodes) Assert.Equal(0, Run(n, "stop").Code);
        foreach (var n in nodes) Assert.Null(lab.PromotionScore(n, "drbd_r0"));
    }
}

internal static class DictionaryExtensions
{
    public static Dictionary<string, string> Also(this Dictionary<string, string> d, IEnumerable<(string, string)> more)
    {
        foreach (var (k, v) in more) d[k] = v;
        return d;
    }
}
