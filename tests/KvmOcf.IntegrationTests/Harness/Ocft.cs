using System.Text.RegularExpressions;

namespace KvmOcf.IntegrationTests.Harness;

/// <summary>resource-agents' own test tool, run for real: a config (derived from the one Debian
/// installs for the ClusterLabs agent) is turned into case scripts (<c>ocft make</c>) and run
/// (<c>ocft test</c>); each case's verdict is read from its output line. ocft keeps its scripts in
/// /var/lib/resource-agents/ocft: they are cleaned, and what ocft created there removed, afterwards.</summary>
public static partial class Ocft
{
    public const string StockConfigs = "/usr/share/resource-agents/ocft/configs";
    private const string CasesRoot = "/var/lib/resource-agents";

    /// <summary>The names of the cases in a config, in order (what ocft make numbers).</summary>
    public static List<string> Cases(string config) =>
        CaseLine().Matches(config).Select(m => m.Groups[1].Value).ToList();

    /// <summary>Runs every case of <paramref name="config"/> for the agent it names; case name →
    /// null when it passed, else what ocft said.</summary>
    /// <param name="prefix">runs ocft test behind it, e.g. nsenter into a network namespace that reaches the storage</param>
    public static Dictionary<string, string?> Run(string agent, string config, TimeSpan timeout, IReadOnlyList<string>? prefix = null)
    {
        bool hadCases = Directory.Exists(CasesRoot);
        var dir = Directory.CreateTempSubdirectory("kvmocf-ocft-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, agent), config);
            Sh.Ok(Cli.Wrap("ocft").WithArguments(["make", "-d", dir, agent]).WithWorkingDirectory(dir));
            var argv = (prefix ?? []).Concat(["ocft", "test", agent]).ToArray();
            var test = Sh.Run(Cli.Wrap(argv[0]).WithArguments(argv[1..]).WithWorkingDirectory(dir), timeout);
            var output = Ansi().Replace(test.StandardOutput + test.StandardError, "");
            var verdicts = new Dictionary<string, string?>();
            foreach (Match m in Verdict().Matches(output))
                verdicts[m.Groups["case"].Value] = m.Groups["ok"].Success ? null : m.Groups["why"].Value.Trim();
            return verdicts;
        }
        finally
        {
            Sh.Run(Cli.Wrap("ocft").WithArguments(["clean", agent]));
            if (!hadCases) Directory.Delete(CasesRoot, recursive: true);
            Directory.Delete(dir, recursive: true);
        }
    }

    [GeneratedRegex(@"^CASE ""(.*)""\s*$", RegexOptions.Multiline)]
    private static partial Regex CaseLine();

    [GeneratedRegex(@"^\w+: (?<case>.*) - (?:(?<ok>OK)|FAILED)\.(?<why>.*)$", RegexOptions.Multiline)]
    private static partial Regex Verdict();

    [GeneratedRegex(@"\x1b\[[0-9;]*m")]
    private static partial Regex Ansi();
}
