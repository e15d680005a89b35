namespace KvmOcf.IntegrationTests.Harness;

/// <summary>One run of an installed-layout agent binary with a pacemaker-like environment.</summary>
public sealed record AgentRun(int Code, string Stdout, string Stderr, TimeSpan Elapsed)
{
    public string? ExitReason => Stderr.Split('\n').LastOrDefault(l => l.StartsWith("ocf-exit-reason:"))?["ocf-exit-reason:".Length..];

    /// <summary>Runs <paramref name="binary"/> <paramref name="action"/> with a clean environment: the
    /// variables pacemaker sets, the given OCF_RESKEY_ parameters, and <paramref name="extra"/>.</summary>
    public static AgentRun Run(string binary, string action, IReadOnlyDictionary<string, string> parameters,
        TimeSpan timeout, IEnumerable<string>? prefix = null, IReadOnlyDictionary<string, string>? extra = null)
    {
        var env = new List<string>
        {
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
            "OCF_EXIT_REASON_PREFIX=ocf-exit-reason:", $"OCF_RESKEY_CRM_meta_timeout={(long)timeout.TotalMilliseconds}",
        };
        env.AddRange(parameters.Select(p => p.Key.StartsWith("OCF_") || p.Key.StartsWith("HA_") ? $"{p.Key}={p.Value}" : $"OCF_RESKEY_{p.Key}={p.Value}"));
        if (extra is not null) env.AddRange(extra.Select(p => $"{p.Key}={p.Value}"));
        var argv = (prefix ?? []).Concat(["env", "-i", .. env, binary, action]).ToArray();
        // more than the agent's own timeout: the test must see the agent answer (or not) by itself
        var r = Sh.Run(Cli.Wrap(argv[0]).WithArguments(argv[1..]), timeout + TimeSpan.FromSeconds(30));
        return new AgentRun(r.ExitCode, r.StandardOutput, r.StandardError, r.Elapsed);
    }

    public override string ToString() => $"rc={Code} in {Elapsed.TotalSeconds:0.0}s; {Stderr.Trim()}";
}
