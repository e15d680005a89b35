using KvmOcf.Ocf;

namespace KvmOcf.Tests;

public class EnvironmentTests
{
    private static OcfEnvironment Env(params (string, string)[] vars) =>
        new(vars.ToDictionary(v => v.Item1, v => v.Item2));

    [Fact]
    public void Check_level_reads_both_spellings_new_first()
    {
        Assert.Equal(0, Env().CheckLevel);
        Assert.Equal(10, Env(("OCF_CHECK_LEVEL", "10")).CheckLevel);
        Assert.Equal(20, Env(("OCF_RESKEY_OCF_CHECK_LEVEL", "20")).CheckLevel);
        Assert.Equal(10, Env(("OCF_CHECK_LEVEL", "10"), ("OCF_RESKEY_OCF_CHECK_LEVEL", "20")).CheckLevel);
    }

    [Fact]
    public void A_bad_check_level_is_a_configuration_error()
    {
        var e = Assert.Throws<OcfException>(() => Env(("OCF_CHECK_LEVEL", "deep")).CheckLevel);
        Assert.Equal(OcfExitCode.ErrConfigured, e.Code);
    }

    [Fact]
    public void Meta_attributes_are_typed()
    {
        var env = Env(("OCF_RESKEY_CRM_meta_interval", "10000"), ("OCF_RESKEY_CRM_meta_timeout", "20000"),
            ("OCF_RESKEY_CRM_meta_on_node", "n1"), ("OCF_RESKEY_CRM_meta_clone", "2"), ("OCF_RESKEY_CRM_meta_clone_max", "3"),
            ("OCF_RESKEY_CRM_meta_master_max", "1"), ("OCF_RESKEY_CRM_meta_notify", "true"),
            ("OCF_RESKEY_CRM_meta_migrate_source", "n1"), ("OCF_RESKEY_CRM_meta_migrate_target", "n2"));
        var meta = env.Meta;
        Assert.Equal(TimeSpan.FromSeconds(10), meta.Interval);
        Assert.Equal(TimeSpan.FromSeconds(20), meta.Timeout);
        Assert.Equal("n1", meta.OnNode);
        Assert.Equal(2, meta.Clone);
        Assert.Equal(3, meta.CloneMax);
        Assert.True(meta.IsClone);
        Assert.Equal(1, meta.PromotedMax);   // from the legacy master_max
        Assert.True(meta.IsPromotable);
        Assert.True(meta.NotifyEnabled);
        Assert.Equal(("n1", "n2"), (meta.MigrateSource, meta.MigrateTarget));
        Assert.Null(meta.PromotedNodeMax);
        Assert.False(meta.GloballyUnique);
    }

    [Fact]
    public void A_bad_timeout_is_a_configuration_error()
    {
        var e = Assert.Throws<OcfException>(() => Env(("OCF_RESKEY_CRM_meta_timeout", "soon")).Meta.Timeout);
        Assert.Equal(OcfExitCode.ErrConfigured, e.Code);
        Assert.Equal(TimeSpan.FromSeconds(90), Env(("OCF_RESKEY_CRM_meta_timeout", "90s")).Meta.Timeout);
    }

    [Theory]
    [InlineData("monitor", "0", true)]
    [InlineData("monitor", "10000", false)]
    [InlineData("monitor", null, false)]      // as ocf_is_probe: an unset interval is not a probe
    [InlineData("start", "0", false)]
    public void Probe_is_a_monitor_with_interval_zero(string action, string? interval, bool probe)
    {
        bool? seen = null;
        var env = new Dictionary<string, string> { ["OCF_RESKEY_path"] = "/x" };
        if (interval is not null) env["OCF_RESKEY_CRM_meta_interval"] = interval;
        var agent = new SampleAgent
        {
            OnMonitor = c => { seen = c.IsProbe; return OcfResult.NotRunning(); },
            OnStart = c => { seen = c.IsProbe; return OcfResult.Success; },
        };
        Outcome.Run(agent, action, env);
        Assert.Equal(probe, seen);
    }

    /// <summary>Recorded from pacemaker 2.1.5: post-start notification of a promotable clone.</summary>
    [Fact]
    public void Notification_variables_are_paired_per_instance()
    {
        var env = Env(
            ("OCF_RESKEY_CRM_meta_notify_type", "post"), ("OCF_RESKEY_CRM_meta_notify_operation", "start"),
            ("OCF_RESKEY_CRM_meta_notify_start_resource", "p1:0 p1:1 p1:2"), ("OCF_RESKEY_CRM_meta_notify_start_uname", "n1 n3 n2"),
            ("OCF_RESKEY_CRM_meta_notify_stop_resource", " "), ("OCF_RESKEY_CRM_meta_notify_stop_uname", " "),
            ("OCF_RESKEY_CRM_meta_notify_promoted_resource", " "), ("OCF_RESKEY_CRM_meta_notify_master_resource", "p1:9"),
            ("OCF_RESKEY_CRM_meta_notify_slave_resource", "p1:1"), ("OCF_RESKEY_CRM_meta_notify_slave_uname", "n3"),
            ("OCF_RESKEY_CRM_meta_notify_inactive_resource", "p1:0 p1:1 p1:2"));
        var n = env.Meta.Notification!;
        Assert.True(n.IsPost);
        Assert.Equal("start", n.Operation);
        Assert.Equal([new("p1:0", "n1"), new("p1:1", "n3"), new("p1:2", "n2")], n.Start);
        Assert.Empty(n.Stop);
        Assert.Empty(n.Promoted);                                  // current name set (empty): legacy ignored
        Assert.Equal([new NotifyPeer("p1:1", "n3")], n.Unpromoted); // only the legacy name set
        Assert.Equal(3, n.Inactive.Count);
        Assert.Equal("", n.Inactive[0].Node);
    }

    [Fact]
    public void No_notification_outside_notify()
    {
        Assert.Null(Env().Meta.Notification);
        Assert.Null(Env().Meta.NotificationData);
    }

    /// <summary>pacemaker gives a clone's start, stop, promote and demote the notification
    /// variables too, without notify_type and notify_operation.</summary>
    [Fact]
    public void A_stop_of_a_clone_with_notify_has_the_notification_data_but_no_notification()
    {
        var env = Env(
            ("OCF_RESKEY_CRM_meta_notify_promoted_resource", "p1:0"), ("OCF_RESKEY_CRM_meta_notify_promoted_uname", "n1"),
            ("OCF_RESKEY_CRM_meta_notify_stop_resource", "p1:1"), ("OCF_RESKEY_CRM_meta_notify_stop_uname", "n2"));
        Assert.Null(env.Meta.Notification);
        var n = env.Meta.NotificationData!;
        Assert.False(n.IsPre || n.IsPost);
        Assert.Equal([new NotifyPeer("p1:0", "n1")], n.Promoted);
        Assert.Equal([new NotifyPeer("p1:1", "n2")], n.Stop);
    }

    [Fact]
    public void Debug_and_facility_follow_pacemaker_variables()
    {
        Assert.False(Env(("HA_debug", "0")).Debug);
        Assert.True(Env(("HA_debug", "1")).Debug);
        Assert.True(Env(("OCF_TRACE_RA", "1")).Debug);
        Assert.Equal("daemon", Env().LogFacility);
        Assert.Equal("local5", Env(("PCMK_logfacility", "local5")).LogFacility);
        Assert.Equal("local3", Env(("HA_LOGFACILITY", "local3"), ("PCMK_logfacility", "local5")).LogFacility);
    }

    [Fact]
    public void Environ_parsing_keeps_the_last_value_and_ignores_junk()
    {
        var env = OcfEnvironment.Parse("A=1\0junk\0=x\0A=2\0B=\0C=x=y\0"u8);
        Assert.Equal("2", env["A"]);
        Assert.Equal("", env["B"]);
        Assert.Null(env.NonEmpty("B"));
        Assert.Equal("x=y", env["C"]);
        Assert.Null(env["junk"]);
    }
}
