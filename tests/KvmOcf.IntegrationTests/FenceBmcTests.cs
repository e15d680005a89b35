using System.Diagnostics;
using KvmOcf.IntegrationTests.Harness;
using Xunit.Abstractions;

namespace KvmOcf.IntegrationTests;

/// <summary>fence_bmc against a real IPMI 2.0 BMC (ipmi_sim, tests/lab/ipmilab) whose chassis power
/// kills and restarts a stand-in host process: every power change is checked on the host itself
/// (the process is dead, or a new one runs), and the password never shows on any command line.</summary>
[Trait("Stack", "ipmi")]
public sealed class FenceBmcTests(IpmiBmc bmc, ITestOutputHelper output) : IClassFixture<IpmiBmc>, IDisposable
{
    private const string Agent = "fence_bmc";

    public void Dispose()
    {
        Sh.Run(Cli.Wrap(Path.Combine(Repo.Root, "tests/lab/ipmilab")).WithArguments(["stuck", bmc.Directory, "0"]));
        if (!bmc.BmcRunning) bmc.Start();
    }

    private ToolResult Run(string action, params (string, string)[] more) =>
        FenceAgentRun.Stdin(Agent, [.. bmc.Options(action), .. more], timeout: TimeSpan.FromSeconds(60));

    [Fact]
    public void Status_off_on_and_reboot_switch_the_host_for_real()
    {
        bmc.Power(true);
        var first = bmc.Host()!.Value;
        var status = Run("status");
        Assert.Equal((0, "Status: ON"), (status.ExitCode, status.StandardOutput.Trim()));

        var off = Run("off");
        Assert.Equal((0, "Success: Powered OFF"), (off.ExitCode, off.StandardOutput.Trim()));
        Assert.Null(bmc.Host());
        Assert.False(first.Alive, "the host process survived the power off");
        var offStatus = Run("status");
        Assert.Equal((2, "Status: OFF"), (offStatus.ExitCode, offStatus.StandardOutput.Trim()));
        Assert.Equal("Success: Already OFF", Run("off").StandardOutput.Trim());

        var on = Run("on");
        Assert.Equal((0, "Success: Powered ON"), (on.ExitCode, on.StandardOutput.Trim()));
        var second = bmc.Host()!.Value;

        var reboot = Run("reboot");
        Assert.Equal((0, "Success: Rebooted"), (reboot.ExitCode, reboot.StandardOutput.Trim()));
        Assert.False(second.Alive, "reboot left the old host process running");
        Assert.NotEqual(second, bmc.Host()!.Value);
        Assert.Equal(0, Run("monitor").ExitCode);
    }

    [Fact]
    public void A_power_cycle_is_seen_off_and_on_again()
    {
        bmc.Power(true);
        var before = bmc.Host()!.Value;
        var cycle = Run("reboot", ("method", "cycle"));
        Assert.Equal((0, "Success: Rebooted"), (cycle.ExitCode, cycle.StandardOutput.Trim()));
        Assert.False(before.Alive);
        Assert.NotNull(bmc.Host());
        // ipmi_sim keeps the host off for 1 s: the agent waited for it to come back
        Assert.True(cycle.Elapsed > TimeSpan.FromSeconds(0.9), $"answered after {cycle.Elapsed.TotalSeconds:0.00}s");
        Assert.Matches(@"OFF killed pid=\d+\n[0-9.]+ ON pid=", string.Join('\n', bmc.ChassisLog().TakeLast(2)));
    }

    [Fact]
    public void A_bmc_that_acknowledges_and_does_nothing_fails_every_power_change()
    {
        bmc.Power(true);
        var host = bmc.Host()!.Value;
        Sh.Ok(Cli.Wrap(Path.Combine(Repo.Root, "tests/lab/ipmilab")).WithArguments(["stuck", bmc.Directory, "1"]));
        FenceAgentRun.AssertCleanFailure(Run("off", ("power_timeout", "2")), "could not confirm the power off: still ON after 2s");
        FenceAgentRun.AssertCleanFailure(Run("reboot", ("method", "cycle"), ("power_timeout", "2")),
            "could not confirm the power cycle of the device: never seen off (still ON after 2s)");
        Assert.True(host.Alive);
    }

    [Fact]
    public void A_wrong_password_or_user_is_refused_clearly_at_once()
    {
        foreach (var (name, value) in new[] { ("password", "not-the-password"), ("username", "mallory") })
        {
            var r = Run("status", (name, value));
            FenceAgentRun.AssertCleanFailure(r, $"the BMC {IpmiBmc.Address} refused the session (wrong username or password");
            Assert.True(r.Elapsed < TimeSpan.FromSeconds(5), $"took {r.Elapsed.TotalSeconds:0.0}s");
            Assert.DoesNotContain("not-the-password", r.StandardOutput + r.StandardError);
        }
    }

    /// <summary>A dead BMC (nothing listens) makes ipmitool run for its whole timeout: long enough to
    /// look at every process's command line meanwhile. The password is in ipmitool's environment
    /// (root-only /proc/PID/environ), nowhere in argv, and the agent gives up within the documented
    /// time (4 × ipmitool_timeout + 2 s = 10 s by default).</summary>
    [Fact]
    public async Task A_dead_bmc_fails_within_the_documented_time_and_the_password_is_on_no_command_line()
    {
        bmc.Power(true);
        var host = bmc.Host()!.Value;
        bmc.KillBmc();
        var run = Task.Run(() => Run("off"));
        var ipmitools = new HashSet<int>();
        bool passwordInEnvironment = false;
        var leaks = new List<string>();
        while (!run.IsCompleted)
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
                try
                {
                    var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                    if (cmdline.Contains(IpmiBmc.Password)) leaks.Add($"{pid}: {cmdline.Replace('\0', ' ')}");
                    if (Path.GetFileName(cmdline.Split('\0')[0]) == "ipmitool" && cmdline.Contains($"\0{bmc.Port}\0"))
                    {
                        ipmitools.Add(pid);
                        passwordInEnvironment |= File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').Contains($"IPMI_PASSWORD={IpmiBmc.Password}");
                    }
                }
                catch (IOException) { }
            }
            await Task.Delay(100);
        }
        var off = await run;
        Assert.Empty(leaks);
        Assert.NotEmpty(ipmitools);
        Assert.True(passwordInEnvironment, "ipmitool did not get the password through its environment");
        FenceAgentRun.AssertCleanFailure(off, $"the BMC {IpmiBmc.Address} does not answer");
        Assert.DoesNotContain(IpmiBmc.Password, off.StandardOutput + off.StandardError);
        Assert.True(off.Elapsed < TimeSpan.FromSeconds(12), $"a dead BMC took {off.Elapsed.TotalSeconds:0.0}s");
        Assert.True(host.Alive, "nothing may happen to the host");
        output.WriteLine($"dead BMC: off failed after {off.Elapsed.TotalSeconds:0.0}s: {off.StandardError.Trim()}");
    }

    [Fact]
    public void The_cipher_suite_is_negotiated_once_and_renegotiated_when_the_bmc_no_longer_offers_it()
    {
        File.Delete(bmc.CipherMemory);
        var first = Run("status", ("verbose", "1"));
        Assert.Equal(0, first.ExitCode);
        Assert.Contains("-C 17 chassis power status", first.StandardError);   // the strongest first: ipmi_sim has no suite 17
        Assert.Contains($"INFO: BMC {IpmiBmc.Address}: cipher suite 3", first.StandardError);
        Assert.Equal("3", File.ReadAllText(bmc.CipherMemory).Trim());

        var second = Run("status", ("verbose", "1"));
        Assert.Equal(0, second.ExitCode);
        Assert.Single(second.StandardError.Split('\n'), l => l.Contains("running ipmitool"));   // one call, with the remembered suite
        Assert.Contains("-C 3 chassis power status", second.StandardError);
        output.WriteLine($"negotiating: {first.Elapsed.TotalMilliseconds:0} ms, remembered: {second.Elapsed.TotalMilliseconds:0} ms");

        File.WriteAllText(bmc.CipherMemory, "17\n");                             // new firmware without the remembered suite
        var stale = Run("status");
        Assert.Equal(0, stale.ExitCode);
        Assert.Contains("cipher suite 17 is no longer offered; negotiating again", stale.StandardError);
        Assert.Equal("3", File.ReadAllText(bmc.CipherMemory).Trim());
    }

    [Fact]
    public void The_password_script_runs_without_a_shell_and_pacemakers_stdin_is_understood()
    {
        var dir = Directory.CreateTempSubdirectory("kvmocf-pw-").FullName;
        try
        {
            var file = Path.Combine(dir, "bmc password");                           // a space: the script's words are split as a shell would
            File.WriteAllText(file, IpmiBmc.Password + "\nsecond line\n");
            var stdin = $"""
                # written by pacemaker-fenced
                action=status
                ipaddr={IpmiBmc.Address}
                ipport={bmc.Port}
                login={IpmiBmc.User}
                passwd_script=cat "{file}"
                nodename=node1
                pcmk_unknown_thing=1
                """;
            var r = FenceAgentRun.WithStdin(Agent, stdin, underFenced: true);
            Assert.Equal(0, r.ExitCode);
            Assert.Equal("Status: ON", r.StandardOutput.Trim());
            Assert.Contains("ignoring unknown option 'pcmk_unknown_thing'", r.StandardError);
            Assert.DoesNotContain("nodename", r.StandardError);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void The_command_line_works_as_fencing_py_parses_it()
    {
        bmc.Power(true);
        // -p puts a password on fence_bmc's own command line: the admin's choice, as with fence_ipmilan
        var r = FenceAgentRun.Args(Agent, ["-a", IpmiBmc.Address, "-u", bmc.Port.ToString(), "-l", IpmiBmc.User, "-p", IpmiBmc.Password, "-o", "status", "--cipher=3"]);
        Assert.Equal((0, "Status: ON"), (r.ExitCode, r.StandardOutput.Trim()));
        var stopwatch = Stopwatch.StartNew();
        var bad = FenceAgentRun.Args(Agent, ["-a", IpmiBmc.Address, "-o", "status", "--ipmitool-timeout=0"]);
        FenceAgentRun.AssertCleanFailure(bad, "option 'ipmitool_timeout'");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2));
    }
}
