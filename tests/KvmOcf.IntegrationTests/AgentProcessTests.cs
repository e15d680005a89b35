using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>The real AOT binary of the test agent, run the way pacemaker runs it, fed bad input:
/// the right exit code, exactly one exit-reason line, and never a stack trace.</summary>
public class AgentProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmocf-proc-").FullName;

    public AgentProcessTests() => Repo.RequireBuild();
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string State => Path.Combine(_dir, "state");

    /// <summary>Runs the agent under bash with an otherwise empty environment plus <paramref name="env"/>
    /// (bash syntax, so values may hold bytes that are not UTF-8).</summary>
    private static (int Code, string Stdout, string Stderr) Agent(string action, string env = "", string redirect = "")
    {
        var r = Sh.Bash($"exec env -i PATH=/usr/bin:/bin OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=t1 {env} \"$1\" {action} {redirect}", Repo.TestAgentBinary);
        return (r.ExitCode, r.StandardOutput, r.StandardError);
    }

    private static void AssertOneLineFailure(int expectedCode, string expectedReason, (int Code, string Stdout, string Stderr) run)
    {
        Assert.Equal(expectedCode, run.Code);
        var reasons = run.Stderr.Split('\n').Where(l => l.StartsWith("ocf-exit-reason:")).ToList();
        Assert.Single(reasons);
        Assert.Contains(expectedReason, reasons[0]);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.DoesNotContain("Unhandled exception", run.Stderr);
    }

    [Fact]
    public void Full_lifecycle_with_a_secret_fed_through_stdin()
    {
        var env = $"OCF_RESKEY_state={State} OCF_RESKEY_secret=s3cret OCF_RESKEY_CRM_meta_interval=10000";
        Assert.Equal(7, Agent("monitor", env).Code);
        Assert.Equal(0, Agent("start", env).Code);
        Assert.Equal(0, Agent("start", env).Code);
        Assert.Equal(0, Agent("monitor", env).Code);
        // sha256("s3cret"), computed by sha256sum reading the secret from the agent's pipe
        Assert.Equal("1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0", File.ReadAllLines(State)[3]);
        Assert.Equal(0, Agent("stop", env).Code);
        Assert.Equal(0, Agent("stop", env).Code);
        Assert.Equal(7, Agent("monitor", env).Code);
    }

    [Fact]
    public void A_value_that_is_not_utf8_is_a_configuration_error() =>
        AssertOneLineFailure(6, "parameter 'state': value is not valid UTF-8", Agent("start", "OCF_RESKEY_state=$'/tmp/\\xff\\xfe'"));

    [Fact]
    public void A_huge_value_is_a_configuration_error() =>
        AssertOneLineFailure(6, "at most 4096 are allowed", Agent("start", "OCF_RESKEY_state=/$(head -c 120000 /dev/zero | tr '\\0' a)"));

    [Fact]
    public void An_overflowing_integer_is_a_configuration_error() =>
        AssertOneLineFailure(6, "parameter 'promotion_score': '99999999999999999999' is out of range",
            Agent("start", $"OCF_RESKEY_state={State} OCF_RESKEY_promotion_score=99999999999999999999"));

    [Fact]
    public void A_negative_time_is_a_configuration_error() =>
        AssertOneLineFailure(6, "parameter 'start_delay': '-1s' is not a time", Agent("start", $"OCF_RESKEY_state={State} OCF_RESKEY_start_delay=-1s"));

    [Fact]
    public void A_wrong_select_is_a_configuration_error() =>
        AssertOneLineFailure(6, "parameter 'check': 'everything' must be one of exists, owned", Agent("start", $"OCF_RESKEY_state={State} OCF_RESKEY_check=everything"));

    [Fact]
    public void A_bad_boolean_is_a_configuration_error() =>
        AssertOneLineFailure(6, "parameter 'fail_start': 'sometimes' is not a boolean", Agent("start", $"OCF_RESKEY_state={State} OCF_RESKEY_fail_start=sometimes"));

    [Fact]
    public void A_bad_timeout_meta_attribute_is_a_configuration_error() =>
        AssertOneLineFailure(6, "OCF_RESKEY_CRM_meta_timeout", Agent("start", $"OCF_RESKEY_state={State} OCF_RESKEY_CRM_meta_timeout=soon"));

    [Fact]
    public void A_missing_required_parameter_is_a_configuration_error_and_never_stopped()
    {
        AssertOneLineFailure(6, "required parameter 'state' is not set", Agent("start"));
        AssertOneLineFailure(1, "required parameter 'state' is not set", Agent("monitor"));
    }

    [Fact]
    public void An_unknown_action_is_unimplemented_with_usage()
    {
        var run = Agent("frobnicate", $"OCF_RESKEY_state={State}");
        AssertOneLineFailure(3, "action 'frobnicate' is not implemented", run);
        Assert.StartsWith("usage: TestAgent {start|stop|monitor|", run.Stderr);
    }

    [Fact]
    public void No_action_is_unimplemented_with_usage() =>
        AssertOneLineFailure(3, "no action given", Agent(""));

    [Fact]
    public void A_directory_missing_on_this_host_fails_start_with_err_args() =>
        AssertOneLineFailure(2, "does not exist on this host", Agent("start", "OCF_RESKEY_state=/nonexistent-kvmocf/state"));

    [Fact]
    public void A_closed_stdout_is_an_error_not_a_trace() =>
        AssertOneLineFailure(1, "internal error: IOException", Agent("meta-data", redirect: ">&-"));

    [Fact]
    public void Start_gives_up_at_its_deadline_before_pacemakers_timeout()
    {
        var started = DateTime.UtcNow;
        var run = Agent("start", $"OCF_RESKEY_state={State} OCF_RESKEY_start_delay=30s OCF_RESKEY_CRM_meta_timeout=3000");
        AssertOneLineFailure(1, "start did not complete within its deadline", run);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(3), "the agent must answer before the 3 s timeout");
        Assert.False(File.Exists(State));
    }

    [Fact]
    public void Help_and_meta_data_need_nothing()
    {
        Assert.Equal(0, Agent("meta-data").Code);
        var help = Agent("help");
        Assert.Equal(0, help.Code);
        Assert.Contains("Parameters (environment variables OCF_RESKEY_<name>):", help.Stdout);
    }
}
