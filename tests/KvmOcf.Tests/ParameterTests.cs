using System.Text;
using KvmOcf.Ocf;

namespace KvmOcf.Tests;

public class ParameterTests
{
    private static Dictionary<string, string> Env(params (string Name, string Value)[] values)
    {
        var env = new Dictionary<string, string> { ["OCF_RESKEY_path"] = "/tmp/x", ["OCF_RESKEY_CRM_meta_interval"] = "10000" };
        foreach (var (name, value) in values) env["OCF_RESKEY_" + name] = value;
        return env;
    }

    public static TheoryData<string, string, int, string?> BadAndGoodValues => new()
    {
        // parameter, value, expected exit code, text the reason must contain
        { "count", "7", 0, null },
        { "count", "", 0, null },                                     // empty = unset = default
        { "count", " 42 ", 0, null },
        { "count", "-1", 6, "must be between 0 and 100" },
        { "count", "101", 6, "must be between 0 and 100" },
        { "count", "99999999999999999999999", 6, "is out of range" },
        { "count", "-99999999999999999999999", 6, "is out of range" },
        { "count", "12abc", 6, "is not an integer" },
        { "count", "0x10", 6, "is not an integer" },
        { "count", "1e3", 6, "is not an integer" },
        { "count", "٣", 6, "is not an integer" },                     // Arabic-Indic digit
        { "flag", "yes", 0, null },
        { "flag", "OFF", 0, null },
        { "flag", "maybe", 6, "is not a boolean" },
        { "flag", "2", 6, "is not a boolean" },
        { "mode", "fast", 0, null },
        { "mode", "FAST", 6, "must be one of fast, safe" },
        { "mode", "turbo", 6, "must be one of fast, safe" },
        { "wait", "90", 0, null },
        { "wait", "500ms", 0, null },
        { "wait", "2min", 0, null },
        { "wait", "1h", 0, null },
        { "wait", "2h", 6, "must be between 0s and 3600s" },
        { "wait", "-5s", 6, "is not a time" },
        { "wait", "5 parsecs", 6, "is not a time" },
        { "wait", "99999999999999999999s", 6, "is not a time" },
        { "wait", "0.2", 0, null },                                   // decimal seconds, as fencing.py takes them
        { "wait", "1.5min", 0, null },
        { "wait", "1.", 6, "is not a time" },
        { "wait", ".5", 6, "is not a time" },
        { "wait", "1.2.3", 6, "is not a time" },
        { "wait", "0.00000000001", 6, "is not a time" },
        { "path", "relative/dir", 6, "is not an absolute path" },
        { "path", "/tmp/a\nb", 6, "contains control characters" },
        { "path", "/" + new string('a', 5000), 6, "at most 4096 are allowed" },
        { "path", "/tmp/ünïcødé ✓", 0, null },
    };

    [Theory]
    [MemberData(nameof(BadAndGoodValues))]
    public void Each_type_accepts_good_values_and_rejects_bad_ones_with_one_line(string name, string value, int code, string? reason)
    {
        var outcome = Outcome.Run(new SampleAgent(), "start", Env((name, value)));

        Assert.Equal(code, outcome.ExitCode);
        Assert.False(outcome.HasStackTrace);
        if (reason is null)
        {
            Assert.Empty(outcome.ExitReasons);
        }
        else
        {
            Assert.Single(outcome.ExitReasons);
            Assert.StartsWith($"parameter '{name}': ", outcome.ExitReason);
            Assert.Contains(reason, outcome.ExitReason);
            Assert.True(Encoding.UTF8.GetByteCount(outcome.ExitReason!) <= 128);
        }
    }

    [Fact]
    public void Missing_required_parameter_is_a_configuration_error()
    {
        var outcome = Outcome.Run(new SampleAgent(), "start", new Dictionary<string, string>());
        Assert.Equal(6, outcome.ExitCode);
        Assert.Equal("required parameter 'path' is not set", outcome.ExitReason);
    }

    [Fact]
    public void Empty_required_parameter_counts_as_missing()
    {
        var outcome = Outcome.Run(new SampleAgent(), "start", new Dictionary<string, string> { ["OCF_RESKEY_path"] = "" });
        Assert.Equal(6, outcome.ExitCode);
        Assert.Equal("required parameter 'path' is not set", outcome.ExitReason);
    }

    [Fact]
    public void A_value_that_is_not_utf8_is_refused_by_name()
    {
        var environ = Encoding.ASCII.GetBytes("OCF_RESKEY_path=/tmp/")
            .Concat(new byte[] { 0xff, 0xfe, 0 })
            .Concat(Encoding.ASCII.GetBytes("OCF_RESOURCE_INSTANCE=r1\0"))
            .ToArray();
        var env = OcfEnvironment.Parse(environ);

        Assert.True(env.IsNotUtf8("OCF_RESKEY_path"));
        Assert.Equal("r1", env.ResourceInstance);
        var stderr = new StringWriter();
        var code = OcfRuntime.Run(new SampleAgent(), ["start"], env, new StringWriter(), stderr);
        Assert.Equal(6, code);
        Assert.EndsWith("ocf-exit-reason:parameter 'path': value is not valid UTF-8", stderr.ToString().TrimEnd());
    }

    [Fact]
    public void Secret_values_are_never_echoed()
    {
        const string secret = "hunter2-\nsecret-line";
        var outcome = Outcome.Run(new SampleAgent(), "start", Env(("password", secret)));
        Assert.Equal(6, outcome.ExitCode);
        Assert.DoesNotContain("hunter2", outcome.Stderr);
        Assert.Equal("parameter 'password': the value contains control characters", outcome.ExitReason);
    }

    [Fact]
    public void A_long_bad_value_is_quoted_short()
    {
        var outcome = Outcome.Run(new SampleAgent(), "start", Env(("count", new string('9', 3000) + "x")));
        Assert.Equal(6, outcome.ExitCode);
        Assert.Single(outcome.ExitReasons);
        Assert.Contains("…", outcome.ExitReason);
    }

    [Fact]
    public void Former_name_still_works_and_warns()
    {
        var env = new Dictionary<string, string> { ["OCF_RESKEY_file"] = "/tmp/old", ["OCF_RESKEY_CRM_meta_interval"] = "0" };
        string? seen = null;
        var agent = new SampleAgent { OnMonitor = c => { seen = c.Get(SampleAgent.Path); return OcfResult.NotRunning(); } };
        var outcome = Outcome.Run(agent, "monitor", env);
        Assert.Equal(7, outcome.ExitCode);
        Assert.Equal("/tmp/old", seen);
        Assert.Contains("WARNING: parameter 'file' is deprecated; use 'path'", outcome.Stderr);
    }

    [Fact]
    public void New_name_wins_over_former_name()
    {
        var env = Env(("file", "/tmp/old"));
        string? seen = null;
        var agent = new SampleAgent { OnMonitor = c => { seen = c.Get(SampleAgent.Path); return OcfResult.NotRunning(); } };
        Outcome.Run(agent, "monitor", env);
        Assert.Equal("/tmp/x", seen);
    }

    [Fact]
    public void Typed_values_and_defaults_reach_the_handler()
    {
        (long, bool, string, TimeSpan)? seen = null;
        var agent = new SampleAgent
        {
            OnStart = c => { seen = (c.Get(SampleAgent.Count), c.Get(SampleAgent.Flag), c.Get(SampleAgent.Mode), c.Get(SampleAgent.Wait)); return OcfResult.Success; },
        };
        Assert.Equal(0, Outcome.Run(agent, "start", Env()).ExitCode);
        Assert.Equal((3L, false, "safe", TimeSpan.FromSeconds(30)), seen);

        Assert.Equal(0, Outcome.Run(agent, "start", Env(("count", "9"), ("flag", "true"), ("mode", "fast"), ("wait", "250ms"))).ExitCode);
        Assert.Equal((9L, true, "fast", TimeSpan.FromMilliseconds(250)), seen);
    }

    [Fact]
    public void Deprecated_parameter_in_use_warns()
    {
        var outcome = Outcome.Run(new SampleAgent(), "monitor", Env(("old", "x")));
        Assert.Equal(7, outcome.ExitCode);
        Assert.Contains("WARNING: parameter 'old' is deprecated: it does nothing", outcome.Stderr);
    }

    /// <summary>Random bytes in every parameter: whatever arrives, the agent answers with a valid
    /// code and at most one exit-reason line, never a trace.</summary>
    [Fact]
    public void Random_bytes_in_any_parameter_never_produce_a_trace()
    {
        var random = new Random(20261121);
        string[] names = ["path", "count", "flag", "mode", "wait", "password", "old", "file"];
        for (int i = 0; i < 2000; i++)
        {
            var bytes = new byte[random.Next(0, i % 50 == 0 ? 140_000 : 40)];
            random.NextBytes(bytes);
            var name = names[random.Next(names.Length)];
            var environ = Encoding.ASCII.GetBytes($"OCF_RESKEY_CRM_meta_interval=10000\0OCF_RESKEY_path=/tmp/x\0OCF_RESKEY_{name}=")
                .Concat(bytes.Select(b => b == 0 ? (byte)1 : b)).Append((byte)0).ToArray();
            var stderr = new StringWriter();
            var code = OcfRuntime.Run(new SampleAgent(), ["start"], OcfEnvironment.Parse(environ), new StringWriter(), stderr);

            Assert.Contains(code, new[] { 0, 6 });
            var lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(lines.Count(l => l.StartsWith("ocf-exit-reason:")) == (code == 6 ? 1 : 0), stderr.ToString());
            Assert.DoesNotContain(lines, l => l.Contains("   at "));
        }
    }
}
