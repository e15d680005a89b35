using KvmOcf.Ocf;

namespace KvmOcf.Tests;

/// <summary>The runtime's last word on exit codes: whatever an agent's handler answers, a probe or a
/// stop can never say something pacemaker reads as "stopped" unless it is a monitor's 7.</summary>
public class ExitCodeRulesTests
{
    private static Dictionary<string, string> Env(string interval) =>
        new() { ["OCF_RESKEY_path"] = "/tmp/x", ["OCF_RESKEY_CRM_meta_interval"] = interval };

    [Theory]
    [InlineData(OcfExitCode.ErrArgs, "0")]
    [InlineData(OcfExitCode.ErrInstalled, "0")]
    [InlineData(OcfExitCode.ErrArgs, "10000")]
    [InlineData(OcfExitCode.ErrInstalled, "10000")]
    public void A_monitor_that_could_not_tell_is_a_generic_error_with_its_reason(OcfExitCode code, string interval)
    {
        var agent = new SampleAgent { OnMonitor = _ => new OcfResult(code, "config on unmounted storage") };
        var outcome = Outcome.Run(agent, "monitor", Env(interval));
        Assert.Equal(1, outcome.ExitCode);
        Assert.Equal("config on unmounted storage", outcome.ExitReason);
    }

    [Fact]
    public void A_tool_missing_in_stop_is_a_generic_error()
    {
        var agent = new SampleAgent { OnStop = _ => throw new CommandNotFoundException("virsh", "is not installed") };
        var outcome = Outcome.Run(agent, "stop", Env("0"));
        Assert.Equal(1, outcome.ExitCode);
        Assert.Equal("virsh is not installed", outcome.ExitReason);
    }

    [Fact]
    public void Only_a_monitor_may_answer_not_running()
    {
        var agent = new SampleAgent { OnStop = _ => OcfResult.NotRunning("gone") };
        var outcome = Outcome.Run(agent, "stop", Env("0"));
        Assert.Equal(1, outcome.ExitCode);
        Assert.Equal("stop cannot answer 'not running': gone", outcome.ExitReason);
        Assert.Equal(7, Outcome.Run(new SampleAgent(), "monitor", Env("0")).ExitCode);
    }

    [Theory]
    [InlineData(OcfExitCode.ErrArgs)]
    [InlineData(OcfExitCode.ErrInstalled)]
    [InlineData(OcfExitCode.ErrConfigured)]
    public void Start_and_validate_all_keep_their_host_checks(OcfExitCode code)
    {
        var agent = new SampleAgent { OnStart = _ => new OcfResult(code, "no"), OnValidateHost = _ => new OcfResult(code, "no") };
        Assert.Equal((int)code, Outcome.Run(agent, "start", Env("0")).ExitCode);
        Assert.Equal((int)code, Outcome.Run(agent, "validate-all", new Dictionary<string, string>(Env("0")) { ["OCF_CHECK_LEVEL"] = "10" }).ExitCode);
    }

    [Fact]
    public void An_invalid_value_fails_start_and_only_the_actions_that_read_it()
    {
        var env = new Dictionary<string, string>(Env("10000")) { ["OCF_RESKEY_count"] = "many" };
        Assert.Equal(6, Outcome.Run(new SampleAgent(), "start", env).ExitCode);
        var stop = Outcome.Run(new SampleAgent(), "stop", env);                  // a stop that does not need it stops
        Assert.Equal(0, stop.ExitCode);
        Assert.Contains("WARNING: parameter 'count': 'many' is not an integer (start would refuse this configuration)", stop.Stderr);
        var reads = Outcome.Run(new SampleAgent { OnMonitor = c => c.Get(SampleAgent.Count) > 0 ? OcfResult.Success : OcfResult.NotRunning() }, "monitor", env);
        Assert.Equal(1, reads.ExitCode);                                         // could not tell: never 6 or 7
        Assert.Equal("parameter 'count': 'many' is not an integer", reads.ExitReason);
    }

    [Fact]
    public void A_missing_required_parameter_fails_every_action_and_never_says_stopped()
    {
        Assert.Equal(6, Outcome.Run(new SampleAgent(), "start", new Dictionary<string, string>()).ExitCode);
        var probe = Outcome.Run(new SampleAgent(), "monitor", new Dictionary<string, string> { ["OCF_RESKEY_CRM_meta_interval"] = "0" });
        Assert.Equal(1, probe.ExitCode);
        Assert.Equal("required parameter 'path' is not set", probe.ExitReason);
    }
}
