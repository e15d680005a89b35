namespace KvmOcf.Fence;

/// <summary>An option the agent cannot take: a one-line reason, exit 1.</summary>
public sealed class FenceUsageException(string reason) : OperationException(FailureKind.Failed, reason);

/// <summary>The options of one run, as fencing.py reads them: from the command line when there is
/// any argument (getopt: <c>-a host</c>, <c>-ahost</c>, <c>--ip=host</c>, <c>--ip host</c>, flags
/// for booleans), else from stdin as pacemaker-fenced writes it (<c>name=value</c> per line,
/// <c>#</c> comments, a value in double quotes unquoted, the last one wins). Former names (ipaddr,
/// login, passwd, port …) count as the option. Unknown names on stdin are warned about and
/// ignored (pacemaker's <c>nodename</c>, and <c>port</c> for an agent without plugs, silently); on the
/// command line they are an error.</summary>
public sealed class FenceInput
{
    private readonly Dictionary<string, string> _values = [];

    public List<string> Warnings { get; } = [];
    public bool Help { get; private set; }

    /// <summary>The raw text given for the option (or one of its former names), or null.</summary>
    public string? this[FenceOption option] => _values.GetValueOrDefault(option.Name);

    public static FenceInput FromCommandLine(IReadOnlyList<FenceOption> options, IReadOnlyList<string> args)
    {
        var input = new FenceInput();
        for (int i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help" or "-?") { input.Help = true; continue; }
            FenceOption? option;
            string? value = null;
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                var name = arg[2..];
                int eq = name.IndexOf('=');
                if (eq >= 0) (name, value) = (name[..eq], name[(eq + 1)..]);
                option = options.FirstOrDefault(o => o.IsNamed(name)) ?? throw new FenceUsageException($"unknown option --{OneLine.Of(name, 40)}");
            }
            else if (arg.Length >= 2 && arg[0] == '-')
            {
                option = options.FirstOrDefault(o => o.Short == arg[1]) ?? throw new FenceUsageException($"unknown option -{arg[1]}");
                if (arg.Length > 2) value = arg[2..];
            }
            else throw new FenceUsageException($"unexpected argument {OneLine.Quote(arg)} (options are -x value or --name=value)");

            if (option.IsFlag)
            {
                if (value is not null && arg.StartsWith("--", StringComparison.Ordinal)) input._values[option.Name] = value;
                else if (value is not null) throw new FenceUsageException($"option -{option.Short} takes no value");
                else input._values[option.Name] = "true";
                continue;
            }
            if (value is null)
            {
                if (++i >= args.Count) throw new FenceUsageException($"option {arg} needs a value");
                value = args[i];
            }
            input._values[option.Name] = value;
        }
        return input;
    }

    /// <summary>Unknown names warned about one by one; the rest are counted (garbage on stdin must not flood the log).</summary>
    private const int MaxWarnings = 10;

    public static FenceInput FromStdin(IReadOnlyList<FenceOption> options, string text)
    {
        var input = new FenceInput();
        int unknown = 0;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int eq = line.IndexOf('=');
            var name = (eq < 0 ? line : line[..eq]).Trim();
            var value = eq < 0 ? "" : line[(eq + 1)..].Trim();
            if (value.Length >= 2 && value[0] == '"' && value[^1] == '"') value = value[1..^1];
            if (options.FirstOrDefault(o => o.IsNamed(name)) is { } option) input._values[option.Name] = value;
            // pacemaker-fenced names the target in nodename, and in port even to an agent without plugs
            // (pcmk_host_argument defaults to port): neither is unknown
            else if (name is not ("nodename" or "port" or "plug") && ++unknown <= MaxWarnings) input.Warnings.Add($"ignoring unknown option '{OneLine.Of(name, 40)}'");
        }
        if (unknown > MaxWarnings) input.Warnings.Add($"ignoring {unknown - MaxWarnings} more unknown options");
        return input;
    }
}
