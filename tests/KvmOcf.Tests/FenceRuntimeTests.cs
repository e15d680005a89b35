using System.Xml.Linq;
using KvmOcf.Fence;

namespace KvmOcf.Tests;

/// <summary>The fence-agents contract of the runtime, on a device in memory: input from stdin or the
/// command line, actions, verification and exit codes.</summary>
public class FenceRuntimeTests
{
    private sealed record Outcome(int Code, string Stdout, string Stderr);

    private static Outcome Run(FenceAgent agent, string stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = FenceRuntime.Run(agent, args, stdin, stdout, stderr);
        return new Outcome(code, stdout.ToString(), stderr.ToString());
    }

    private const string Fast = "power_timeout=1\nstonith_status_sleep=0\n";

    [Theory]
    [InlineData("action=status\nplug=vm1\n", 0, "Status: ON")]
    [InlineData("action=status\nport=vm2\n", 2, "Status: OFF")]                     // port: the old name pacemaker sends
    [InlineData("# a comment\n action = status \nplug=\"vm2\"\n", 2, "Status: OFF")]   // spaces, quotes
    [InlineData("action=off\naction=status\nplug=vm2\nnodename=n1\n", 2, "Status: OFF")] // the last one wins; nodename is pacemaker's
    public void Stdin_is_read_as_pacemaker_fenced_writes_it(string stdin, int code, string line)
    {
        var outcome = Run(new FakeFenceAgent(), stdin);
        Assert.Equal(code, outcome.Code);
        Assert.Contains(line, outcome.Stdout);
        Assert.DoesNotContain("WARNING", outcome.Stderr);
    }

    [Theory]
    [InlineData(new[] { "-o", "status", "-n", "vm2" }, 2)]
    [InlineData(new[] { "--action=status", "--plug", "vm1" }, 0)]
    [InlineData(new[] { "-ostatus", "-nvm2" }, 2)]
    [InlineData(new[] { "--action", "status", "--port=vm1", "-v" }, 0)]
    public void The_command_line_is_read_as_getopt_does(string[] args, int code)
    {
        Assert.Equal(code, Run(new FakeFenceAgent(), "", args).Code);
    }

    [Theory]
    [InlineData(new[] { "--frobnicate" }, "unknown option --frobnicate")]
    [InlineData(new[] { "-o" }, "option -o needs a value")]
    [InlineData(new[] { "-v=1" }, "option -v takes no value")]
    [InlineData(new[] { "stray" }, "unexpected argument 'stray'")]
    [InlineData(new[] { "-o", "explode", "-n", "vm1" }, "unknown action 'explode'")]
    public void Bad_command_lines_fail_with_one_line(string[] args, string reason)
    {
        var outcome = Run(new FakeFenceAgent(), "", args);
        Assert.Equal(1, outcome.Code);
        Assert.Contains($"Failed: {reason}", outcome.Stderr);
        Assert.DoesNotContain("   at ", outcome.Stderr);
    }

    [Fact]
    public void Unknown_stdin_options_are_warned_about_by_name_only()
    {
        var outcome = Run(new FakeFenceAgent(), "action=status\nplug=vm1\nsecret_thing=hunter2\n");
        Assert.Equal(0, outcome.Code);
        Assert.Contains("ignoring unknown option 'secret_thing'", outcome.Stderr);
        Assert.DoesNotContain("hunter2", outcome.Stderr);
    }

    [Fact]
    public void Garbage_on_stdin_is_warned_about_ten_names_at_most()
    {
        var garbage = string.Join('\n', Enumerable.Range(0, 500).Select(i => $"junk{i}=x"));
        var outcome = Run(new FakeFenceAgent(), garbage + "\naction=status\nplug=vm1\n");
        Assert.Equal(0, outcome.Code);
        Assert.Equal(11, outcome.Stderr.Split('\n').Count(l => l.StartsWith("WARNING")));
        Assert.Contains("ignoring 490 more unknown options", outcome.Stderr);
    }

    [Fact]
    public void A_plug_declared_required_is_still_the_plug()
    {
        var device = new FakeFenceAgent { PlugRequired = true };
        Assert.True(device.HasPlugs);
        Assert.Equal(2, Run(device, "action=status\nplug=vm2\n").Code);
        Assert.Equal(["status vm2"], device.Calls);
        Assert.Equal("vm1,vm1-alias\nvm2,vm2-alias\n", Run(device, "action=list\n").Stdout);
        var metadata = XDocument.Parse(Run(device, "action=metadata\n").Stdout).Root!;
        Assert.Contains("list", metadata.Element("actions")!.Elements("action").Select(a => (string)a.Attribute("name")!));
        Assert.Equal("1", (string?)metadata.Descendants("parameter").Single(p => (string?)p.Attribute("name") == "plug").Attribute("required"));
        Assert.Contains("option 'plug' is required", Run(device, "action=status\n").Stderr);
    }

    [Fact]
    public void Off_is_verified_and_already_off_is_success()
    {
        var device = new FakeFenceAgent();
        var off = Run(device, Fast + "action=off\nplug=vm1\n");
        Assert.Equal((0, "Success: Powered OFF"), (off.Code, off.Stdout.Trim()));
        Assert.Equal(PowerState.Off, device.Plugs["vm1"]);
        Assert.Equal("Success: Already OFF", Run(device, Fast + "action=off\nplug=vm1\n").Stdout.Trim());
    }

    [Fact]
    public void An_off_that_cannot_be_confirmed_is_a_failure_not_a_success()
    {
        var device = new FakeFenceAgent { IgnoresCommands = true };
        var off = Run(device, Fast + "action=off\nplug=vm1\n");
        Assert.Equal(1, off.Code);
        Assert.Contains("could not confirm the power off: still ON after 1s", off.Stderr);
        Assert.DoesNotContain("Success", off.Stdout);
    }

    [Fact]
    public void A_plug_the_device_does_not_know_is_never_off_unless_the_admin_says_so()
    {
        var status = Run(new FakeFenceAgent(), "action=status\nplug=vm9\n");
        Assert.Equal(1, status.Code);
        Assert.Contains("does not know 'vm9' (set missing_as_off if that means off)", status.Stderr);
        Assert.Equal(2, Run(new FakeFenceAgent(), "action=status\nplug=vm9\nmissing_as_off=1\n").Code);
    }

    [Fact]
    public void Reboot_is_off_then_on_and_counts_once_the_plug_is_off()
    {
        var device = new FakeFenceAgent();
        var reboot = Run(device, Fast + "plug=vm1\n");                                  // reboot is the default action
        Assert.Equal((0, "Success: Rebooted"), (reboot.Code, reboot.Stdout.Trim()));
        Assert.Equal(["status vm1", "off vm1", "status vm1", "on vm1", "status vm1"], device.Calls);

        var stuck = new FakeFenceAgent { CannotPowerOn = true };
        var fenced = Run(stuck, Fast + "action=reboot\nplug=vm1\n");
        Assert.Equal(0, fenced.Code);                                                   // the node is off: fenced
        Assert.Contains("Timed out waiting to power ON", fenced.Stderr);
        Assert.Equal(PowerState.Off, stuck.Plugs["vm1"]);
    }

    [Fact]
    public void A_power_cycle_counts_only_once_the_plug_was_seen_off()
    {
        var device = new FakeFenceAgent();
        var cycle = Run(device, Fast + "action=reboot\nplug=vm1\nmethod=cycle\n");
        Assert.Equal((0, "Success: Rebooted"), (cycle.Code, cycle.Stdout.Trim()));
        Assert.Equal(["status vm1", "cycle vm1", "status vm1", "status vm1", "status vm1"], device.Calls);
        Assert.Equal(PowerState.On, device.Plugs["vm1"]);
    }

    [Fact]
    public void A_power_cycle_acknowledged_but_never_seen_is_a_failure()
    {
        var device = new FakeFenceAgent { CycleOffFor = null };                     // the BMC says "Cycle" and does nothing
        var cycle = Run(device, Fast + "action=reboot\nplug=vm1\nmethod=cycle\n");
        Assert.Equal(1, cycle.Code);
        Assert.Contains("could not confirm the power cycle of 'vm1': never seen off (still ON after 1s)", cycle.Stderr);
        Assert.DoesNotContain("Success", cycle.Stdout);
    }

    [Fact]
    public void A_plug_that_is_off_is_powered_on_rather_than_cycled()
    {
        var device = new FakeFenceAgent();
        var reboot = Run(device, Fast + "action=reboot\nplug=vm2\nmethod=cycle\n");
        Assert.Equal(0, reboot.Code);
        Assert.Equal(["status vm2", "on vm2", "status vm2"], device.Calls);
    }

    [Fact]
    public void A_device_that_does_not_answer_for_a_moment_is_asked_again_until_power_timeout()
    {
        var device = new FakeFenceAgent { FailuresAfterCommand = 2 };
        var off = Run(device, "power_timeout=5\nstonith_status_sleep=0\naction=off\nplug=vm1\n");
        Assert.Equal((0, "Success: Powered OFF"), (off.Code, off.Stdout.Trim()));

        var silent = new FakeFenceAgent { FailuresAfterCommand = int.MaxValue };
        var unconfirmed = Run(silent, Fast + "action=off\nplug=vm1\n");
        Assert.Equal(1, unconfirmed.Code);
        Assert.Contains("could not confirm the power off: the device did not answer after 1s", unconfirmed.Stderr);
    }

    [Fact]
    public void Several_plugs_are_fenced_together()
    {
        var device = new FakeFenceAgent();
        device.Plugs["vm2"] = PowerState.On;
        Assert.Equal(0, Run(device, Fast + "action=off\nplug=vm1,vm2\n").Code);
        Assert.Equal([PowerState.Off, PowerState.Off], device.Plugs.Values);
        Assert.Equal(2, Run(device, "action=status\nplug=vm1;vm2\nplug_separator=;\n").Code);
    }

    [Theory]
    [InlineData("status", 0)]
    [InlineData("off", 0)]
    [InlineData("on", 0)]
    [InlineData("reboot", 0)]
    [InlineData("list", 0)]
    [InlineData("list-status", 0)]
    [InlineData("monitor", 0)]
    public void Options_an_agent_does_not_declare_take_their_defaults(string action, int code)
    {
        // the runtime reads method, separator and missing_as_off; an agent without them must still work
        var run = Run(new FakeFenceAgent { Minimal = true }, $"action={action}\nplug=vm1\n");
        Assert.True(run.Code == code, $"{action}: exit {run.Code}: {run.Stderr}");
        Assert.DoesNotContain("internal error", run.Stderr);
    }

    [Fact]
    public void List_and_list_status_print_what_pacemaker_parses()
    {
        var list = Run(new FakeFenceAgent(), "action=list\n");
        Assert.Equal("vm1,vm1-alias\nvm2,vm2-alias\n", list.Stdout);
        var status = Run(new FakeFenceAgent(), "action=list-status\nseparator=;\n");
        Assert.Equal("vm1;vm1-alias;ON\nvm2;vm2-alias;OFF\n", status.Stdout);
    }

    [Fact]
    public void A_bad_value_fails_every_action_with_the_option_named_and_a_secret_never_shown()
    {
        var bad = Run(new FakeFenceAgent(), "action=status\nplug=vm1\npower_timeout=soon\n");
        Assert.Equal(1, bad.Code);
        Assert.Contains("Failed: option 'power_timeout': 'soon' is not a time", bad.Stderr);
        var secret = Run(new FakeFenceAgent(), "action=status\nplug=vm1\npassword=hunter2\nline2\u0001\n");
        Assert.DoesNotContain("hunter2", secret.Stderr + secret.Stdout);
    }

    [Fact]
    public void The_password_script_runs_without_a_shell_and_its_output_stays_secret()
    {
        var device = new FakeFenceAgent();
        var outcome = Run(device, "action=status\nplug=vm1\npassword_script=printf 's3cret\\nmore' ; echo pwned\n");
        // the ';' is printf's argument, not a shell's command separator: nothing named "echo" ran
        Assert.Equal(0, outcome.Code);
        Assert.Equal("s3cret", device.SeenPassword);
        Assert.DoesNotContain("s3cret", outcome.Stdout + outcome.Stderr);
    }

    [Fact]
    public void Metadata_follows_fence_agents_with_old_names_deprecated()
    {
        var outcome = Run(new FakeFenceAgent(), "", "-o", "metadata");
        var root = XDocument.Parse(outcome.Stdout).Root!;
        Assert.Equal("fence_fake", (string?)root.Attribute("name"));
        XElement Param(string name) => root.Element("parameters")!.Elements("parameter").Single(p => (string?)p.Attribute("name") == name);
        Assert.Equal("port", (string?)Param("plug").Attribute("obsoletes"));
        Assert.Equal("1", (string?)Param("port").Attribute("deprecated"));
        Assert.Equal("-n, --plug=[plug]", (string?)Param("plug").Element("getopt")!.Attribute("mixed"));
        Assert.Equal("reboot", (string?)Param("action").Element("content")!.Attribute("default"));
        Assert.Equal("second", (string?)Param("power_timeout").Element("content")!.Attribute("type"));
        Assert.Equal(["on", "off", "reboot", "status", "list", "list-status", "monitor", "metadata", "manpage", "validate-all"],
            root.Element("actions")!.Elements("action").Select(a => (string)a.Attribute("name")!));
        Assert.Equal(outcome.Stdout, Run(new FakeFenceAgent(), "action=meta-data\n").Stdout);
    }

    /// <summary>Generated stdin streams: whatever arrives, no stack trace, and never an "off" the
    /// device does not have.</summary>
    [Fact]
    public void No_stdin_makes_a_trace_or_a_false_off()
    {
        var random = new Random(20261202);
        string[] names = ["action", "plug", "port", "ip", "ipaddr", "username", "login", "password", "passwd", "power_timeout",
            "power_wait", "delay", "retry_on", "method", "plug_separator", "missing_as_off", "stonith_status_sleep", "nodename", "x", ""];
        string[] values = ["on", "off", "reboot", "status", "list", "monitor", "vm1", "vm2", "vm9", "vm1,vm2", "0", "1", "-1", "soon",
            "cycle", "\"quoted\"", "a=b", "", "ünï", new string('z', 300), "yes", "0.5"];
        for (int i = 0; i < 1500; i++)
        {
            var device = new FakeFenceAgent { IgnoresCommands = random.Next(3) == 0 };
            var lines = Enumerable.Range(0, random.Next(0, 8)).Select(_ => random.Next(10) == 0
                ? new string((char)random.Next(1, 0x250), random.Next(0, 20))
                : $"{names[random.Next(names.Length)]}={values[random.Next(values.Length)]}");
            var stdin = "power_timeout=0\nstonith_status_sleep=0\n" + string.Join('\n', lines) + "\npower_timeout=0\npower_wait=0\ndelay=0\n";
            var outcome = Run(device, stdin);
            Assert.False(outcome.Stderr.Contains("   at ") || outcome.Stderr.Contains("Exception"), $"#{i}: {stdin}\n{outcome.Stderr}");
            Assert.True(outcome.Code is 0 or 1 or 2, $"#{i}: exit {outcome.Code}");
            if (outcome.Code == 2 || outcome.Stdout.Contains("Powered OFF"))
                Assert.True(device.Plugs.Values.Contains(PowerState.Off), $"#{i}: said off with {string.Join(",", device.Plugs)}\n{stdin}");
        }
    }
}
