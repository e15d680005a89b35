using System.Globalization;

namespace KvmOcf.DrbdFencePeer;

/// <summary>The command line of crm-fence-peer.9.sh, option for option (long and short forms,
/// <c>--name=value</c> and <c>--name value</c>), followed by the words of
/// <c>OCF_RESKEY_unfence_extra_args</c> (which the agent passes for its unfence call). Unknown
/// options and arguments are reported and ignored, as the script does.</summary>
internal sealed record HandlerOptions
{
    public string? Resource { get; init; }
    public string? CloneId { get; init; }
    public string? Role { get; init; }
    public string FencingAttribute { get; init; } = "#uname";
    public string IdPrefix { get; init; } = "drbd-fence-by-handler";
    /// <summary>How long to wait for the peer to be confirmed reachable or down.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(90);
    /// <summary>How long to wait for a DC.</summary>
    public TimeSpan DcTimeout { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>How long to wait for the replication link to come back when the peer is alive.</summary>
    public TimeSpan NetHickup { get; init; } = TimeSpan.Zero;
    public bool Quiet { get; init; }
    public bool UnfenceOnlyIfOwnerMatch { get; init; }
    public bool FlockRequired { get; init; }
    public TimeSpan FlockTimeout { get; init; } = TimeSpan.FromSeconds(120);
    public string LockDirectory { get; init; } = "/var/lock/drbd";
    public string? LockFile { get; init; }
    public bool UnreachablePeerIsOutdated { get; init; }
    public bool SuicideOnFailureIfPrimary { get; init; }
    public string LogFacility { get; init; } = "local5";
    public IReadOnlyList<string> Ignored { get; init; } = [];

    /// <param name="interactive">stdin is a terminal: only then is --unreachable-peer-is-outdated
    /// honoured ("This is NOT to be scripted", crm-fence-peer.9.sh).</param>
    public static HandlerOptions Parse(IReadOnlyList<string> args, string? extraArgs, bool interactive)
    {
        var words = args.Concat((extraArgs ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).ToList();
        var o = new HandlerOptions();
        var ignored = new List<string>();
        for (int i = 0; i < words.Count; i++)
        {
            var word = words[i];
            string name = word, inline = "";
            bool hasInline = false;
            if (word.StartsWith("--", StringComparison.Ordinal) && word.IndexOf('=') is > 2 and var eq)
            {
                name = word[..eq];
                inline = word[(eq + 1)..];
                hasInline = true;
            }
            string Value()
            {
                if (hasInline) return inline;
                if (i + 1 < words.Count) return words[++i];
                ignored.Add(word + " (no value)");
                return "";
            }
            switch (name)
            {
                case "--logfacility": o = o with { LogFacility = Value() }; break;
                case "-r" or "--resource": o = o with { Resource = Value() }; break;
                case "-i" or "--master-id": o = o with { CloneId = Value() }; break;
                case "-l" or "--role": o = o with { Role = Value() }; break;
                case "-a" or "--fencing-attribute": o = o with { FencingAttribute = Value() }; break;
                case "-p" or "--id-prefix": o = o with { IdPrefix = Value() }; break;
                case "-t" or "--timeout": o = o with { Timeout = Seconds(Value(), o.Timeout, word, ignored) }; break;
                case "-d" or "--dc-timeout": o = o with { DcTimeout = Seconds(Value(), o.DcTimeout, word, ignored) }; break;
                case "--net-hickup" or "--network-hickup": o = o with { NetHickup = Seconds(Value(), o.NetHickup, word, ignored) }; break;
                case "--flock-timeout": o = o with { FlockTimeout = Seconds(Value(), o.FlockTimeout, word, ignored) }; break;
                case "--lock-dir": o = o with { LockDirectory = Value() }; break;
                case "--lock-file": o = o with { LockFile = Value() }; break;
                case "--quiet": o = o with { Quiet = true }; break;
                case "--unfence-only-if-owner-match": o = o with { UnfenceOnlyIfOwnerMatch = true }; break;
                case "--flock-required": o = o with { FlockRequired = true }; break;
                case "--CTS-mode": ignored.Add(word + " (not supported)"); break;
                case "--unreachable-peer-is-outdated": o = o with { UnreachablePeerIsOutdated = interactive }; break;
                case "--suicide-on-failure-if-primary": o = o with { SuicideOnFailureIfPrimary = true }; break;
                default: ignored.Add(word); break;
            }
        }
        if (!o.LockDirectory.StartsWith('/')) { ignored.Add($"--lock-dir {o.LockDirectory} (not absolute; using /var/lock/drbd)"); o = o with { LockDirectory = "/var/lock/drbd" }; }
        return o with { Ignored = ignored };
    }

    private static TimeSpan Seconds(string text, TimeSpan fallback, string option, List<string> ignored)
    {
        if (int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s <= 86400) return TimeSpan.FromSeconds(s);
        ignored.Add($"{option} {text} (not a number of seconds)");
        return fallback;
    }

    /// <summary>The constraint's id prefix: the given one, with "-RESOURCE" appended unless it ends so
    /// (each DRBD resource of one clone fences on its own).</summary>
    public string PrefixFor(string resource) =>
        IdPrefix.EndsWith("-" + resource, StringComparison.Ordinal) ? IdPrefix : $"{IdPrefix}-{resource}";

    /// <summary>The lock file: --lock-file (absolute, or in --lock-dir; NONE for no lock), else
    /// LOCKDIR/fence.RESOURCE; null for no lock.</summary>
    public string? LockPath(string resource) => LockFile switch
    {
        "NONE" => null,
        null or "" => Path.Combine(LockDirectory, "fence." + resource.Replace('/', '_')),
        var f when f.StartsWith('/') => f,
        var f => Path.Combine(LockDirectory, f),
    };
}
