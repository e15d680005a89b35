using System.Text;
using Xunit.Abstractions;

namespace KvmOcf.IntegrationTests.Harness;

/// <summary>A standing table of faults and what an agent answers under each: every row is run
/// and recorded, the whole table is printed (test output and build/test-results/fault-matrix-
/// &lt;Agent&gt;.md, pasted into README), and only then does the test fail on the rows that went wrong.</summary>
public sealed class FaultMatrix(string agent, ITestOutputHelper output)
{
    private sealed record Entry(string Case, string Action, string Expected, string Got, TimeSpan Took, TimeSpan? Within, bool Ok, string? Why);

    private readonly List<Entry> _rows = [];

    /// <summary>Records <paramref name="run"/>: right when its code is one of <paramref name="expected"/>,
    /// it answered before <paramref name="within"/> (its timeout), and it printed no stack trace.</summary>
    public AgentRun Row(string fault, string action, AgentRun run, TimeSpan within, params int[] expected) =>
        Row(fault, action, run, within, expected, []);

    /// <summary>As the other <see cref="Row(string, string, AgentRun, TimeSpan, int[])"/>, and right
    /// only if every one of <paramref name="after"/> holds too (e.g. "the mount is still there").</summary>
    public AgentRun Row(string fault, string action, AgentRun run, TimeSpan within, int[] expected, params (bool Holds, string Otherwise)[] after)
    {
        bool ok = expected.Contains(run.Code) && run.Elapsed < within && !run.Stderr.Contains("   at ") && after.All(a => a.Holds);
        var got = run.Code.ToString() + (run.ExitReason is { Length: > 0 } why ? $" ({why})" : "");
        var broken = after.Where(a => !a.Holds).Select(a => a.Otherwise).ToList();
        _rows.Add(new(fault, action, string.Join(" or ", expected), got, run.Elapsed, within, ok, broken.Count > 0 ? string.Join("; ", broken) : null));
        return run;
    }

    /// <summary>Records a fact the fault must not change (e.g. "the guest runs exactly once").</summary>
    public void Fact(string fault, string what, bool holds) => _rows.Add(new(fault, what, "holds", holds ? "holds" : "VIOLATED", TimeSpan.Zero, null, holds, null));

    public string Markdown()
    {
        var sb = new StringBuilder("| fault | action | expected | got | time (timeout) |\n|---|---|---|---|---|\n");
        foreach (var r in _rows)
            sb.Append($"| {r.Case} | {r.Action} | {r.Expected} | {(r.Ok ? "" : "**✗** ")}{r.Got.Replace("|", "\\|")} | {Time(r)} |\n");
        return sb.ToString();
    }

    /// <summary>How long the action took, and its timeout.</summary>
    private static string Time(Entry r) => r.Within is not { } within ? ""
        : (r.Took < TimeSpan.FromSeconds(1) ? $"{r.Took.TotalMilliseconds:0} ms" : $"{r.Took.TotalSeconds:0.0} s") + $" ({within.TotalSeconds:0.#} s)";

    /// <summary>Prints and saves the table, then fails if any row went wrong.</summary>
    public void Verify()
    {
        var table = Markdown();
        output.WriteLine(table);
        var results = Directory.CreateDirectory(Path.Combine(Repo.Build, "test-results")).FullName;
        File.WriteAllText(Path.Combine(results, $"fault-matrix-{agent}.md"), table);
        var wrong = _rows.Where(r => !r.Ok)
            .Select(r => $"{r.Case} / {r.Action}: expected {r.Expected}, got {r.Got} in {r.Took.TotalSeconds:0.0}s" + (r.Why is null ? "" : $" ({r.Why})")).ToList();
        Assert.True(wrong.Count == 0, "rows that went wrong:\n" + string.Join('\n', wrong) + "\n\n" + table);
    }
}
