using System.Xml.Linq;
using KvmOcf.Ocf;

namespace KvmOcf.Tests;

public class RuntimeTests
{
    private static readonly Dictionary<string, string> Valid = new() { ["OCF_RESKEY_path"] = "/tmp/x" };

    [Fact]
    public void Meta_data_needs_no_environment()
    {
        var outcome = Outcome.Run(new SampleAgent(), "meta-data", new Dictionary<string, string>());
        Assert.Equal(0, outcome.ExitCode);
        Assert.Equal("", outcome.Stderr);
        Assert.Equal("resource-agent", XDocument.Parse(outcome.Stdout).Root!.Name.LocalName);
    }

    [Theory]
    [InlineData("frobnicate", "action 'frobnicate' is not implemented")]
    [InlineData("", "no action given")]
    [InlineData("promote", "action 'promote' is not implemented")]
    public void Unknown_action_is_unimplemented_with_usage(string action, string reason)
    {
        var outcome = Outcome.Run(new SampleAgent(), action, Valid);
        Assert.Equal(3, outcome.ExitCode);
        Assert.StartsWith("usage: Sample {start|stop|monitor|meta-data|validate-all}", outcome.Stderr);
        Assert.Equal(reason, outcome.ExitReason);
    }

    [Theory]
    [InlineData("usage")]
    [InlineData("help")]
    [InlineData("--help")]
    public void Help_goes_to_stdout_and_succeeds(string action)
    {
        var outcome = Outcome.Run(new SampleAgent(), action);
        Assert.Equal(0, outcome.ExitCode);
        Assert.Contains("count: A count [optional; integer between 0 and 100; default 3]", outcome.Stdout);
        Assert.Contains("password: A password [optional; text; secret]", outcome.Stdout);
        Assert.Contains("path: A path [required; text; unique (path); formerly file]", outcome.Stdout);
        Assert.Contains("monitor       timeout 20s, interval 10s, depth 0", outcome.Stdout);
        Assert.Contains("validate-all  timeout 20s", outcome.Stdout);
    }

    [Fact]
    public void Status_is_monitor()
    {
        var outcome = Outcome.Run(new SampleAgent { OnMonitor = _ => OcfExitCode.Success }, "status", Valid);
        Assert.Equal(0, outcome.ExitCode);
    }

    [Fact]
    public void Extra_arguments_are_ignored()
    {
        var stderr = new StringWriter();
        int code = OcfRuntime.Run(new SampleAgent(), ["monitor", "extra", "args"], new OcfEnvironment(Valid), new StringWriter(), stderr);
        Assert.Equal(7, code);
    }

    [Fact]
    public void An_unexpected_exception_is_a_generic_error_with_one_line()
    {
        var agent = new SampleAgent { OnStart = _ => throw new InvalidOperationException("boom\nsecond line") };
        var outcome = Outcome.Run(agent, "start", Valid);
        Assert.Equal(1, outcome.ExitCode);
        Assert.Equal("internal error: InvalidOperationException: boom second line", outcome.ExitReason);
        Assert.False(outcome.HasStackTrace);
        Assert.DoesNotContain("RuntimeTests", outcome.Stderr);
    }

    [Fact]
    public void The_stack_trace_goes_only_to_the_debug_log()
    {
        var agent = new SampleAgent { OnStart = _ => throw new InvalidOperationException("boom") };
        var outcome = Outcome.Run(agent, "start", new Dictionary<string, string>(Valid) { ["HA_debug"] = "1" });
        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains("DEBUG: unexpected exception in start", outcome.Stderr);
        Assert.Contains("RuntimeTests", outcome.Stderr);   // the trace, folded onto one debug line
        Assert.Single(outcome.ExitReasons);
    }

    [Fact]
    public void An_OcfException_carries_its_code_and_reason()
    {
        var agent = new SampleAgent { OnStart = _ => throw new CommandNotFoundException("virsh", "is not installed") };
        var outcome = Outcome.Run(agent, "start", Valid);
        Assert.Equal(5, outcome.ExitCode);
        Assert.Equal("virsh is not installed", outcome.ExitReason);
        Assert.Contains("ERROR: virsh is not installed", outcome.Stderr);
    }

    [Fact]
    public void The_exit_reason_is_the_last_line_and_fits_pacemakers_128_bytes()
    {
        var agent = new SampleAgent { OnStart = _ => OcfResult.Generic("ä" + new string('x', 300)) };
        var outcome = Outcome.Run(agent, "start", Valid);
        Assert.Equal(1, outcome.ExitCode);
        var last = outcome.Stderr.TrimEnd('\n').Split('\n')[^1];
        Assert.StartsWith("ocf-exit-reason:ä", last);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(outcome.ExitReason!) <= 128);
        Assert.EndsWith("…", outcome.ExitReason);
    }

    [Fact]
    public void Exit_reason_prefix_comes_from_the_environment()
    {
        var agent = new SampleAgent { OnStart = _ => OcfResult.Generic("nope") };
        var outcome = Outcome.Run(agent, "start", new Dictionary<string, string>(Valid) { ["OCF_EXIT_REASON_PREFIX"] = "why:" });
        Assert.EndsWith("why:nope", outcome.Stderr.TrimEnd());
    }

    [Fact]
    public void Success_prints_no_exit_reason()
    {
        var outcome = Outcome.Run(new SampleAgent(), "start", Valid);
        Assert.Equal(0, outcome.ExitCode);
        Assert.Empty(outcome.ExitReasons);
    }

    [Fact]
    public void Degraded_is_reported_with_its_reason_but_not_as_an_error()
    {
        var agent = new SampleAgent { OnMonitor = _ => new OcfResult(OcfExitCode.Degraded, "1 of 3 bricks down") };
        var outcome = Outcome.Run(agent, "monitor", Valid);
        Assert.Equal(190, outcome.ExitCode);
        Assert.Equal("1 of 3 bricks down", outcome.ExitReason);
        Assert.Contains("INFO: 1 of 3 bricks down", outcome.Stderr);
    }

    [Fact]
    public void Validate_all_checks_syntax_at_depth_0_and_the_host_at_depth_10()
    {
        var agent = new SampleAgent { OnValidateHost = _ => OcfResult.Args("/tmp/x is missing on this host") };
        Assert.Equal(0, Outcome.Run(agent, "validate-all", Valid).ExitCode);

        var deep = Outcome.Run(agent, "validate-all", new Dictionary<string, string>(Valid) { ["OCF_CHECK_LEVEL"] = "10" });
        Assert.Equal(2, deep.ExitCode);
        Assert.Equal("/tmp/x is missing on this host", deep.ExitReason);

        var bad = Outcome.Run(agent, "validate-all", new Dictionary<string, string> { ["OCF_RESKEY_path"] = "rel" });
        Assert.Equal(6, bad.ExitCode);
    }

    [Theory]
    [InlineData("start", 6)]
    [InlineData("validate-all", 6)]
    [InlineData("stop", 0)]
    [InlineData("monitor", 7)]
    public void A_rule_between_parameters_fails_start_and_validate_all_and_is_logged_elsewhere(string action, int code)
    {
        var agent = new SampleAgent
        {
            OnValidateConfiguration = c => c.Get(SampleAgent.Flag) && c.Get(SampleAgent.Mode) == "fast"
                ? OcfResult.Generic("flag and mode=fast exclude each other") : OcfResult.Success,
        };
        var env = new Dictionary<string, string>(Valid) { ["OCF_RESKEY_flag"] = "true", ["OCF_RESKEY_mode"] = "fast" };
        var outcome = Outcome.Run(agent, action, env);
        Assert.Equal(code, outcome.ExitCode);
        if (code == 6) Assert.Equal("flag and mode=fast exclude each other", outcome.ExitReason);
        else Assert.Contains("WARNING: flag and mode=fast exclude each other", outcome.Stderr);
        Assert.Equal(action == "monitor" ? 7 : 0, Outcome.Run(agent, action, Valid).ExitCode);
    }

    [Fact]
    public void A_bad_meta_attribute_fails_the_action_not_the_process()
    {
        var outcome = Outcome.Run(new SampleAgent(), "start", new Dictionary<string, string>(Valid) { ["OCF_RESKEY_CRM_meta_timeout"] = "-5" });
        Assert.Equal(6, outcome.ExitCode);
        Assert.Contains("OCF_RESKEY_CRM_meta_timeout", outcome.ExitReason);
    }

    [Fact]
    public void The_deadline_comes_from_the_operation_timeout_minus_a_margin()
    {
        (TimeSpan Timeout, TimeSpan Remaining)? seen = null;
        var agent = new SampleAgent { OnStart = c => { seen = (c.Timeout, c.Deadline.Remaining); return OcfResult.Success; } };

        Outcome.Run(agent, "start", new Dictionary<string, string>(Valid) { ["OCF_RESKEY_CRM_meta_timeout"] = "60000" });
        Assert.Equal(TimeSpan.FromSeconds(60), seen!.Value.Timeout);
        Assert.InRange(seen.Value.Remaining, TimeSpan.FromSeconds(50), TimeSpan.FromSeconds(57));

        Outcome.Run(agent, "start", Valid);   // by hand: the declared default
        Assert.Equal(TimeSpan.FromSeconds(20), seen.Value.Timeout);
    }
}
