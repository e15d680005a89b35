using KvmOcf.Ocf;

namespace KvmOcf.Tests;

/// <summary>The process runner against real (tiny) programs from coreutils.</summary>
public class CommandTests
{
    private static readonly Deadline Minute = Deadline.After(TimeSpan.FromMinutes(1));

    [Fact]
    public void Arguments_are_passed_verbatim_without_a_shell()
    {
        var result = new Command("printf").WithArguments("%s|", "a b", "$HOME", "*", "';rm -rf /'").Run(Minute);
        Assert.True(result.Succeeded);
        Assert.Equal("a b|$HOME|*|';rm -rf /'|", result.StandardOutput);
    }

    [Fact]
    public void Find_looks_in_the_given_path_and_wants_an_executable()
    {
        var dir = Directory.CreateTempSubdirectory("kvmocf-find-").FullName;
        try
        {
            var tool = Path.Combine(dir, "tool");
            File.WriteAllText(tool, "#!/bin/sh\n");
            Assert.Null(Command.Find(tool));
            Assert.Null(Command.Find("tool", "/nonexistent:" + dir));
            File.SetUnixFileMode(tool, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Assert.Equal(tool, Command.Find(tool));
            Assert.Equal(tool, Command.Find("tool", "/nonexistent:" + dir));
            Assert.Null(Command.Find("tool", "/usr/bin"));
            Assert.Equal("/bin/sh", Command.Find("sh", "/bin"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Builder_is_immutable()
    {
        var baseCommand = new Command("echo").WithArguments("a");
        var longer = baseCommand.WithArguments("b");
        Assert.Equal(["a"], baseCommand.Arguments);
        Assert.Equal(["a", "b"], longer.Arguments);
    }

    [Fact]
    public void Stdin_carries_secrets_and_env_is_set_or_removed()
    {
        Assert.Equal("s3cret", new Command("cat").WithStandardInput("s3cret").Run(Minute).StandardOutput);
        var env = new Command("env").WithEnvironment("KVMOCF_TEST", "1").WithEnvironment("HOME", null).Run(Minute).StandardOutput;
        Assert.Contains("KVMOCF_TEST=1", env);
        Assert.DoesNotContain("HOME=", env);
    }

    [Fact]
    public void Without_input_the_child_reads_end_of_file_at_once()
    {
        var result = new Command("cat").Run(Minute);
        Assert.Equal("", result.StandardOutput);
        Assert.True(result.Succeeded);
    }

    [Fact]
    public void Exit_code_and_both_streams_are_captured()
    {
        var result = new Command("ls").WithArguments("/nonexistent-kvmocf").Run(Minute);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("nonexistent-kvmocf", result.Summary);
        var e = Assert.Throws<OperationException>(() => result.ThrowIfFailed("listing"));
        Assert.Equal(FailureKind.Failed, e.Kind);
        Assert.StartsWith("listing failed (exit 2): ls: cannot access", e.Reason);
    }

    [Fact]
    public void A_missing_program_is_not_installed()
    {
        var e = Assert.Throws<CommandNotFoundException>(() => new Command("kvmocf-no-such-tool").Run(Minute));
        Assert.Equal(FailureKind.NotFound, e.Kind);
        Assert.Equal("kvmocf-no-such-tool is not installed", e.Reason);
    }

    [Fact]
    public void At_the_deadline_the_child_and_its_children_are_killed()
    {
        var pidFile = Path.GetTempFileName();
        try
        {
            // sh stands in for any tool that forks helpers; the grandchild must die too.
            var command = new Command("sh").WithArguments("-c", "sleep 300 & echo $! > \"$1\"; wait", "sh", pidFile);
            Assert.Throws<CommandTimeoutException>(() => command.Run(Deadline.After(TimeSpan.FromMilliseconds(300))));
            var grandchild = int.Parse(File.ReadAllText(pidFile).Trim());
            Assert.True(Deadline.After(TimeSpan.FromSeconds(5)).WaitUntil(() => !IsAlive(grandchild), TimeSpan.FromMilliseconds(20)),
                $"grandchild {grandchild} survived");
        }
        finally { File.Delete(pidFile); }
    }

    [Fact]
    public void An_expired_deadline_runs_nothing()
    {
        Assert.Equal(FailureKind.TimedOut, Assert.Throws<OperationException>(() => new Command("true").Run(Deadline.After(TimeSpan.Zero))).Kind);
    }

    [Fact]
    public void Output_beyond_the_cap_is_dropped_but_drained()
    {
        var result = new Command("head").WithArguments("-c", "1000000", "/dev/zero").WithMaxOutputBytes(1000).Run(Minute);
        Assert.True(result.Succeeded);
        Assert.Equal(1000, result.StandardOutput.Length);
    }

    [Fact]
    public void Large_input_and_output_flow_both_ways_without_deadlock()
    {
        var big = new string('x', 3_000_000);
        var result = new Command("cat").WithStandardInput(big).Run(Minute);
        Assert.Equal(big.Length, result.StandardOutput.Length);
    }

    [Fact]
    public void A_daemon_left_holding_the_pipes_does_not_hold_up_the_result()
    {
        var started = DateTime.UtcNow;
        var result = new Command("sh").WithArguments("-c", "sleep 30 & echo forked").Run(Minute);
        Assert.Equal("forked\n", result.StandardOutput);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(20));
    }

    [Fact]
    public void Death_by_signal_is_128_plus_the_signal()
    {
        Assert.Equal(137, new Command("sh").WithArguments("-c", "kill -9 $$").Run(Minute).ExitCode);
    }

    [Fact]
    public void Signals_the_runtime_ignores_are_default_again_in_the_child()
    {
        // .NET ignores SIGPIPE; a child that inherited that would see EPIPE instead of dying.
        var status = new Command("grep").WithArguments("SigIgn", "/proc/self/status").Run(Minute).StandardOutput;
        var ignored = Convert.ToUInt64(status.Split('\t')[1].Trim(), 16);
        Assert.Equal(0UL, ignored & 0xffffffff & ~(1UL << 31)); // only glibc's internal real-time signals stay ignored
    }

    [Fact]
    public void ToString_quotes_for_logs()
    {
        Assert.Equal("mount -t glusterfs 'h1:/v 1' /mnt", new Command("mount").WithArguments("-t", "glusterfs", "h1:/v 1", "/mnt").ToString());
    }

    private static bool IsAlive(int pid)
    {
        try { return !File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2].Equals("Z"); }
        catch (IOException) { return false; }
    }

    [Fact]
    public void A_command_that_runs_out_of_time_is_an_answer_not_an_exception()
    {
                Assert.Null(new Command("sleep").WithArguments("5").TryRun(Deadline.After(TimeSpan.FromMilliseconds(100))));
        Assert.Null(new Command("true").TryRun(Deadline.After(TimeSpan.Zero)));          // expired before it started
        Assert.Equal(0, new Command("true").TryRun(Deadline.After(TimeSpan.FromSeconds(5)))!.ExitCode);
        Assert.Throws<CommandNotFoundException>(() => new Command("no-such-tool-kvmocf").TryRun(Deadline.After(TimeSpan.FromSeconds(5))));
    }
}
