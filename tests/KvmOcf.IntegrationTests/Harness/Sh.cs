using System.Diagnostics;
using System.Text;

namespace KvmOcf.IntegrationTests.Harness;

/// <summary>What a program run by the harness did: its exit code (128 + the signal that killed it),
/// its output decoded as UTF-8, and how long it took.</summary>
public sealed record ToolResult(int ExitCode, string StandardOutput, string StandardError, TimeSpan Elapsed)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>Runs programs for the tests through CliWrap — a runner independent of the product's
/// own: an argv array, never a shell; stdin closed; stdout and stderr collected; at the timeout the
/// program and all its descendants killed.</summary>
public static class Sh
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);
    /// <summary>How long output is still read once the program has exited: a daemon it left behind
    /// may hold its stdout open for good.</summary>
    private static readonly TimeSpan PipeGrace = TimeSpan.FromMilliseconds(200);

    public static ToolResult Run(string program, params string[] arguments) => Run(Cli.Wrap(program).WithArguments(arguments));

    /// <summary>Runs <paramref name="command"/> to its end, whatever its exit code. At the timeout
    /// the program and its descendants are killed and <see cref="TimeoutException"/> is thrown; a
    /// program that is not there throws <see cref="FileNotFoundException"/>.</summary>
    public static ToolResult Run(Command command, TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        if (!Exists(command.TargetFilePath)) throw new FileNotFoundException($"{command.TargetFilePath} is not installed");
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        var outputEnds = new CancellationTokenSource();      // not disposed: the exit callback may come after we return
        using var kill = new CancellationTokenSource(limit);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = WithDefaultSignals(command)
                .WithValidation(CommandResultValidation.None)
                .WithStandardOutputPipe(CollectUntil(stdout, outputEnds.Token))
                .WithStandardErrorPipe(CollectUntil(stderr, outputEnds.Token))
                .ExecuteAsync(null, p => p.WaitForExitAsync().ContinueWith(_ => outputEnds.CancelAfter(PipeGrace), TaskScheduler.Default),
                    kill.Token, CancellationToken.None)
                .GetAwaiter().GetResult();
            return new ToolResult(result.ExitCode, Text(stdout), Text(stderr), Stopwatch.GetElapsedTime(started));
        }
        // CliWrap gives up (TimeoutException) on a child that does not die within 3 s of the kill,
        // e.g. one stuck in the kernel on a FUSE mount whose daemon is suspended
        catch (Exception e) when (kill.IsCancellationRequested && e is OperationCanceledException or TimeoutException)
        {
            throw new TimeoutException($"{Describe(command)} did not finish within {limit.TotalSeconds:0.#}s and was killed", e);
        }
    }

    /// <summary>Runs and fails the test with the program's output unless it exits 0.</summary>
    public static ToolResult Ok(string program, params string[] arguments) => Ok(Cli.Wrap(program).WithArguments(arguments));

    public static ToolResult Ok(Command command, TimeSpan? timeout = null)
    {
        var r = Run(command, timeout);
        if (!r.Succeeded)
            throw new InvalidOperationException($"{Describe(command)} exited {r.ExitCode}\n{r.StandardOutput}\n{r.StandardError}");
        return r;
    }

    /// <summary>A bash script, for the few tests that need what only a shell can do (bytes that are
    /// not UTF-8 in an environment variable, a closed stdout).</summary>
    public static ToolResult Bash(string script, params string[] arguments) =>
        Run(Cli.Wrap("bash").WithArguments(["-c", script, "bash", .. arguments]));

    /// <summary>Polls until <paramref name="condition"/> holds; false after <paramref name="timeout"/>.</summary>
    public static bool Eventually(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero) return false;
            Thread.Sleep(left < PollInterval ? left : PollInterval);
        }
        return true;
    }

    /// <summary>.NET starts children with SIGPIPE ignored (the runtime ignores it, and an ignored
    /// signal survives exec); pacemaker, a shell and the product's runner start them with every
    /// signal at its default. env(1) puts them back before it runs the program in its place.</summary>
    private static Command WithDefaultSignals(Command command) =>
        command.WithTargetFile("env").WithArguments(a => a
            .Add("--default-signal").Add("--").Add(command.TargetFilePath).Add(command.Arguments, escape: false));

    /// <summary>Copies a pipe into <paramref name="into"/> until its end, or until
    /// <paramref name="stop"/> (set shortly after the program exited).</summary>
    private static PipeTarget CollectUntil(Stream into, CancellationToken stop) => PipeTarget.Create(async (pipe, killed) =>
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(killed, stop);
        try { await pipe.CopyToAsync(into, either.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !killed.IsCancellationRequested) { }
    });

    private static bool Exists(string program) =>
        program.Contains('/') ? File.Exists(program)
            : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(d => File.Exists(Path.Combine(d, program)));

    private static string Text(MemoryStream stream) => Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);

    private static string Describe(Command command) => $"{command.TargetFilePath} {command.Arguments}".TrimEnd();
}
