namespace KvmOcf.Fence;

/// <summary>An option of a fence agent: a typed parameter of the core (its parsing, checks, facts),
/// named the fence-agents way — <c>name=value</c> on stdin as pacemaker-fenced sends it, and
/// <c>--name</c> (dashes for underscores) or a short letter on the command line as fencing.py
/// parses it. A boolean is a flag on the command line.</summary>
public sealed record FenceOption(Parameter Parameter, char? Short = null)
{
    /// <summary>This agent cannot act without it (the parameter's own Required holds everywhere).</summary>
    public bool Required { get; init; }

    public bool IsRequired => Required || Parameter.Required;
    public string Name => Parameter.Name;
    public string LongName => Name.Replace('_', '-');
    public bool IsFlag => Parameter is BooleanParameter;

    /// <summary>fence-agents' metadata type: boolean, string, integer, second or select.</summary>
    public string ContentType => Parameter switch
    {
        TimeParameter => "second",
        _ => Parameter.ContentType,
    };

    /// <summary>How the command line spells it, as fence-agents metadata and man pages show it.</summary>
    public string Getopt => (Short is { } s ? $"-{s}, " : "") + "--" + LongName + (IsFlag ? "" : $"=[{Name}]");

    /// <summary>Whether <paramref name="name"/> (from stdin, or a long option without its dashes)
    /// names this option or one of its former names (ipaddr for ip …).</summary>
    public bool IsNamed(string name)
    {
        var normal = name.Replace('-', '_');
        return normal == Name || Parameter.FormerNames.Contains(normal);
    }
}
