namespace KvmOcf.IntegrationTests.Harness;

/// <summary>A program a test starts and leaves running (a process that holds a file, sits in a
/// directory), through CliWrap; disposal kills it and its descendants if it still runs.</summary>
public sealed class BackgroundProcess : IDisposable
{
    private readonly CancellationTokenSource _kill = new();
    private readonly CommandTask<CommandResult> _run;

    public BackgroundProcess(string workingDirectory, params string[] argv) =>
        _run = Cli.Wrap(argv[0]).WithArguments(argv[1..]).WithWorkingDirectory(workingDirectory)
            .WithValidation(CommandResultValidation.None).ExecuteAsync(_kill.Token);

    public int Id => _run.ProcessId;
    public bool HasExited => _run.Task.IsCompleted;

    /// <summary>Whether it ended within <paramref name="milliseconds"/>.</summary>
    public bool WaitForExit(int milliseconds)
    {
        try { return _run.Task.Wait(milliseconds); }
        catch (AggregateException) { return true; }
    }

    public void Dispose()
    {
        _kill.Cancel();
        WaitForExit(5000);
        _kill.Dispose();
    }
}
