namespace KvmOcf.IntegrationTests.Harness;

/// <summary>ocf-tester (resource-agents) against an installed agent.</summary>
public static class OcfTester
{
    /// <summary>Its one check that fails for every agent here: the DTD lint knows only OCF 1.0.</summary>
    public const string DtdCheck = "Your agent produces meta-data which does not conform to ra-api-1.dtd";

    /// <summary>Runs <c>ocf-tester -v -n instance -o name=value … agent</c>, behind
    /// <paramref name="prefix"/> (e.g. <c>env HA_RSCTMP=…</c>, a network namespace) if given.</summary>
    public static ToolResult Run(string agent, string instance, IEnumerable<string> options, TimeSpan timeout, params string[] prefix)
    {
        string[] argv = [.. prefix, "ocf-tester", "-v", "-n", instance, .. options.SelectMany(o => new[] { "-o", o }), agent];
        return Sh.Run(Cli.Wrap(argv[0]).WithArguments(argv[1..]), timeout);
    }

    /// <summary>The checks that failed ("* rc=…" lines).</summary>
    public static List<string> Failures(ToolResult run) => run.StandardOutput.Split('\n').Where(l => l.StartsWith("* rc=")).ToList();

    /// <summary>Fails unless every check passed, the DTD lint excepted.</summary>
    public static void AssertOnlyTheDtdCheckFails(ToolResult run)
    {
        var failures = Failures(run);
        Assert.True(failures.Count == 0 || failures is [var only] && only.Contains(DtdCheck), run.StandardOutput);
    }
}
