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
        foreach (var n in nodes) lab.Exec(n, "drbdadm down r0");
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
