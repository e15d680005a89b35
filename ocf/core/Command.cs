using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;

namespace KvmOcf.Core;

/// <summary>An external program to run, built immutably (in the manner of CliWrap): an argv array,
/// never a shell; extra environment; text for stdin. Secrets go through stdin or the environment,
/// never the arguments, which are logged at debug level and visible in <c>ps</c>.</summary>
public sealed record Command
{
    public Command(string program) => Program = program;

    public string Program { get; }
    public IReadOnlyList<string> Arguments { get; private init; } = [];
    public IReadOnlyDictionary<string, string?> Environment { get; private init; } = new Dictionary<string, string?>();
    public string? StandardInput { get; private init; }
    /// <summary>Output beyond this many bytes per stream is read and dropped.</summary>
    public int MaxOutputBytes { get; private init; } = 4 << 20;

    public Command WithArguments(params IEnumerable<string> arguments) => this with { Arguments = [.. Arguments, .. arguments] };

    /// <summary>Sets (or, with null, removes) a variable in the child's environment.</summary>
    public Command WithEnvironment(string name, string? value) =>
        this with { Environment = new Dictionary<string, string?>(Environment) { [name] = value } };

    public Command WithStandardInput(string text) => this with { StandardInput = text };
    public Command WithMaxOutputBytes(int bytes) => this with { MaxOutputBytes = bytes };

    public string Name => Path.GetFileName(Program);

    /// <summary>The executable <paramref name="name"/> would run as: itself if it contains a '/',
    /// else the first match in <paramref name="searchPath"/> (default: PATH); null if none.</summary>
    public static string? Find(string name, string? searchPath = null)
    {
        if (name.Contains('/')) return IsExecutable(name) ? name : null;
        searchPath ??= System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin";
        return searchPath.Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(IsExecutable);
    }

    private static bool IsExecutable(string path) =>
        File.Exists(path) && (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;

    /// <summary>Runs the command to completion or until <paramref name="deadline"/>. At the deadline
    /// the child and its descendants are killed and <see cref="CommandTimeoutException"/> is thrown.
    /// A program that cannot be started throws <see cref="CommandNotFoundException"/>.</summary>
    public CommandResult Run(Deadline deadline, ILogger? log = null)
    {
        deadline.ThrowIfExpired($"before running {Name}");
        log?.LogDebug("running {Command}", ToString());
        var started = Stopwatch.GetTimestamp();
        using var child = ChildProcess.Start(Program, Arguments, Environment, out int error)
            ?? throw new CommandNotFoundException(Name, error switch
            {
                Posix.ENOENT => "is not installed",
                Posix.EACCES => "is not executable",
                _ => $"could not be started (errno {error})",
            });
        var input = StandardInput is null ? [] : Encoding.UTF8.GetBytes(StandardInput);
        if (!child.Communicate(input, deadline, MaxOutputBytes, out var stdout, out var stderr))
        {
            child.KillTree();
            var after = Stopwatch.GetElapsedTime(started);
            log?.LogDebug("{Command} killed after {Seconds:0.0}s", Name, after.TotalSeconds);
            throw new CommandTimeoutException(Name, after);
        }
        var result = new CommandResult(child.ExitCode, stdout, stderr, Stopwatch.GetElapsedTime(started));
        log?.LogDebug("{Command} exited {Code} after {Ms:0}ms", Name, result.ExitCode, result.Duration.TotalMilliseconds);
        return result;
    }

    /// <summary>As <see cref="Run"/>, with "did not finish in time" as an answer rather than an
    /// exception: null when the deadline came first (also when it had passed before the command
    /// could start), so the caller decides what a timeout means (a mount that does not answer; a
    /// volume whose health is unknown). A child stuck at the deadline is killed and not waited for:
    /// one in an uninterruptible FUSE wait dies only when its request is answered.</summary>
    public CommandResult? TryRun(Deadline deadline, ILogger? log = null)
    {
        if (deadline.Expired) return null;
        try { return Run(deadline, log); }
        catch (OperationException e) when (e.Kind == FailureKind.TimedOut || deadline.Expired) { return null; }
    }

    /// <summary>The command line for logs: arguments quoted where needed.</summary>
    public override string ToString() =>
        string.Join(' ', Arguments.Prepend(Program).Select(a => a.Length > 0 && !a.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' or '\\') ? a : "'" + a.Replace("'", "'\\''") + "'"));
}

/// <summary>What a finished command did.</summary>
public sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError, TimeSpan Duration)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The first non-empty line of stderr (else stdout), for exit reasons.</summary>
    public string Summary =>
        OneLine.Of(FirstLine(StandardError) ?? FirstLine(StandardOutput) ?? $"exit code {ExitCode}", 200);

    /// <summary>What a coreutils tool said after naming its file ("stat: cannot stat '/x': Permission
    /// denied" → "Permission denied"), else <see cref="Summary"/>.</summary>
    public string Complaint => Summary.LastIndexOf("': ", StringComparison.Ordinal) is var i and > 0 ? Summary[(i + 3)..] : Summary;

    /// <summary>Throws "<paramref name="what"/> failed: …" unless the command succeeded.</summary>
    public CommandResult ThrowIfFailed(string what) =>
        Succeeded ? this : throw new OperationException(FailureKind.Failed, $"{what} failed (exit {ExitCode}): {Summary}");

    private static string? FirstLine(string text) =>
        text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0);
}

/// <summary>The command was still running at the deadline and has been killed.</summary>
public sealed class CommandTimeoutException(string name, TimeSpan after)
    : OperationException(FailureKind.TimedOut, $"{name} did not finish within {after.TotalSeconds:0.0}s and was killed");

/// <summary>The program could not be started (not installed, not executable).</summary>
public sealed class CommandNotFoundException(string name, string why)
    : OperationException(FailureKind.NotFound, $"{name} {why}");
