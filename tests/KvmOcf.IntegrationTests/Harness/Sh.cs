using KvmOcf.Ocf;

namespace KvmOcf.IntegrationTests.Harness;

/// <summary>Runs tools for the tests, through the product's own process runner.</summary>
public static class Sh
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    public static CommandResult Run(string program, params string[] arguments) =>
        new Command(program).WithArguments(arguments).Run(Deadline.After(DefaultTimeout));

    public static CommandResult Run(Command command, TimeSpan? timeout = null) =>
        command.Run(Deadline.After(timeout ?? DefaultTimeout));

    /// <summary>Runs and fails the test with the tool's output unless it exits 0.</summary>
    public static CommandResult Ok(string program, params string[] arguments) => Ok(new Command(program).WithArguments(arguments));

    public static CommandResult Ok(Command command, TimeSpan? timeout = null)
    {
        var r = Run(command, timeout);
        if (!r.Succeeded)
            throw new InvalidOperationException($"{command} exited {r.ExitCode}\n{r.StandardOutput}\n{r.StandardError}");
        return r;
    }

    /// <summary>A bash script, for the few tests that need what only a shell can do (bytes that are
    /// not UTF-8 in an environment variable, a closed stdout).</summary>
    public static CommandResult Bash(string script, params string[] arguments) =>
        Run(new Command("bash").WithArguments(["-c", script, "bash", .. arguments]));

    /// <summary>Polls until <paramref name="condition"/> holds; false after <paramref name="timeout"/>.</summary>
    public static bool Eventually(Func<bool> condition, TimeSpan timeout) =>
        Deadline.After(timeout).WaitUntil(condition, TimeSpan.FromMilliseconds(250));
}
