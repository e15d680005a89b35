namespace KvmOcf.IntegrationTests.Harness;

/// <summary>A fence agent from the staged root, run the way pacemaker-fenced runs it: a clean
/// environment (PATH, LC_ALL, PCMK_service when told), the options as <c>name=value</c> lines on
/// stdin, or as command-line arguments (fencing.py's other way), optionally on a lab node (prefix).</summary>
public static class FenceAgentRun
{
    public static string Staged(string agent) => Path.Combine(Repo.StagedRoot, "usr/sbin", agent);

    /// <summary>Runs <paramref name="agent"/> with <paramref name="options"/> on stdin, one per line, in order.</summary>
    public static ToolResult Stdin(string agent, IEnumerable<(string Name, string Value)> options, IEnumerable<string>? prefix = null,
        TimeSpan? timeout = null, bool underFenced = false) =>
        WithStdin(agent, string.Concat(options.Select(o => $"{o.Name}={o.Value}\n")), prefix, timeout, underFenced);

    /// <summary>Runs <paramref name="agent"/> with <paramref name="stdin"/> as it is.</summary>
    public static ToolResult WithStdin(string agent, string stdin, IEnumerable<string>? prefix = null, TimeSpan? timeout = null,
        bool underFenced = false) =>
        Sh.Run(Command(agent, [], prefix, underFenced).WithStandardInputPipe(PipeSource.FromString(stdin)), timeout ?? TimeSpan.FromMinutes(2));

    /// <summary>Runs <paramref name="agent"/> with command-line arguments (stdin then is not read).</summary>
    public static ToolResult Args(string agent, IEnumerable<string> arguments, IEnumerable<string>? prefix = null, TimeSpan? timeout = null) =>
        Sh.Run(Command(agent, arguments, prefix, underFenced: false), timeout ?? TimeSpan.FromMinutes(2));

    private static Command Command(string agent, IEnumerable<string> arguments, IEnumerable<string>? prefix, bool underFenced)
    {
        var env = new List<string> { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C" };
        if (underFenced) env.Add("PCMK_service=pacemaker-fenced");
        var argv = (prefix ?? []).Concat(["env", "-i", .. env, Staged(agent), .. arguments]).ToArray();
        return Cli.Wrap(argv[0]).WithArguments(argv[1..]);
    }

    /// <summary>Asserts a failure that tells what happened in one line and no stack trace.</summary>
    public static void AssertCleanFailure(ToolResult r, string expected)
    {
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}, expected 1\n{r.StandardOutput}\n{r.StandardError}");
        Assert.Contains(expected, r.StandardError);
        Assert.Single(r.StandardError.Split('\n'), l => l.StartsWith("ERROR: Failed:"));
        Assert.DoesNotContain("   at ", r.StandardError);
        Assert.DoesNotContain("Exception", r.StandardError);
        Assert.DoesNotContain("Success", r.StandardOutput);
    }
}
