using System.Text;

namespace KvmOcf.Fence;

/// <summary>What a fence agent says about itself, derived from its declaration: fence-agents'
/// metadata XML (valid against its metadata.rng; what pacemaker-fenced and pcs read), the man page
/// and the --help text. Every text goes through <see cref="Xml.Escape"/> or roff escaping.</summary>
public static class FenceMetadata
{
    /// <summary>The actions the agent answers, in metadata order.</summary>
    public static IReadOnlyList<string> Actions(FenceAgent agent) =>
    [
        "on", "off", .. agent.Reboots ? new[] { "reboot" } : [], "status",
        .. agent.HasPlugs ? new[] { "list", "list-status" } : [], "monitor", "metadata", "manpage", "validate-all",
    ];

    public static string Xml(FenceAgent agent)
    {
        var sb = new StringBuilder("<?xml version=\"1.0\" ?>\n");
        sb.Append($"<resource-agent name=\"{E(agent.Name)}\" shortdesc=\"{E(agent.ShortDescription)}\" >\n");
        sb.Append($"<longdesc>{E(agent.LongDescription)}</longdesc>\n");
        sb.Append($"<vendor-url>{E(agent.VendorUrl)}</vendor-url>\n<parameters>\n");
        foreach (var o in agent.Options)
        {
            Parameter(sb, agent, o, o.Name, obsoletes: o.Parameter.FormerNames.FirstOrDefault(), deprecated: false);
            foreach (var former in o.Parameter.FormerNames) Parameter(sb, agent, o, former, obsoletes: null, deprecated: true);
        }
        sb.Append("</parameters>\n<actions>\n");
        foreach (var a in Actions(agent))
            sb.Append(a == "on" ? $"\t<action name=\"on\" automatic=\"{(agent.UnfencesAutomatically ? 1 : 0)}\"/>\n" : $"\t<action name=\"{a}\" />\n");
        sb.Append("</actions>\n</resource-agent>\n");
        return sb.ToString();
    }

    private static void Parameter(StringBuilder sb, FenceAgent agent, FenceOption o, string name, string? obsoletes, bool deprecated)
    {
        var getopt = o.Getopt.Replace("--" + o.LongName, "--" + name.Replace('_', '-'));
        if (deprecated && o.Short is { } s) getopt = getopt.Replace($"-{s}, ", "");
        sb.Append($"\t<parameter name=\"{E(name)}\" unique=\"0\" required=\"{(Required(o) && !deprecated ? 1 : 0)}\"")
          .Append(deprecated ? " deprecated=\"1\"" : obsoletes is not null ? $" obsoletes=\"{E(obsoletes)}\"" : "").Append(">\n");
        sb.Append($"\t\t<getopt mixed=\"{E(getopt)}\" />\n");
        var defaultText = o == StandardOptions.Action ? (agent.Reboots ? "reboot" : "off") : o.Parameter.DefaultText;
        var type = o == StandardOptions.Action ? "string" : o.ContentType;
        var attributes = $"type=\"{type}\"" + (defaultText is { } d ? $" default=\"{E(d)}\"" : "");
        if (o.Parameter.Options.Count == 0) sb.Append($"\t\t<content {attributes} />\n");
        else
        {
            sb.Append($"\t\t<content {attributes}>\n");
            foreach (var option in o.Parameter.Options) sb.Append($"\t\t\t<option value=\"{E(option)}\" />\n");
            sb.Append("\t\t</content>\n");
        }
        sb.Append($"\t\t<shortdesc lang=\"en\">{E(o.Parameter.ShortDescription)}</shortdesc>\n\t</parameter>\n");
    }

    /// <summary>As fencing.py marks them: the action always (pacemaker-fenced supplies it), and what the agent requires.</summary>
    /// <summary>The parameter's facts, with "required" as the agent declares the option (a plug or an
    /// address the agent cannot work without is required there, whatever the shared parameter says).</summary>
    private static IEnumerable<string> Facts(FenceOption o) => o.Parameter.Facts().Skip(1).Prepend(o.IsRequired ? "required" : "optional");

    private static bool Required(FenceOption o) => o == StandardOptions.Action || o.IsRequired;

    private static string E(string text) => KvmOcf.Core.Xml.Escape(text);

    public static string Usage(FenceAgent agent)
    {
        var sb = new StringBuilder($"{agent.Name} - {agent.ShortDescription}\n\nUsage: {agent.Name} [options]  (or the options as name=value lines on stdin)\n\nOptions:\n");
        foreach (var o in agent.Options)
            sb.Append("  ").Append(o.Getopt.PadRight(34)).Append(' ').Append(o.Parameter.ShortDescription)
              .Append(" [").AppendJoin("; ", Facts(o)).Append("]\n");
        sb.Append("\nActions: ").AppendJoin(", ", Actions(agent)).Append('\n');
        return sb.ToString();
    }

    public static string ManPage(FenceAgent agent)
    {
        var sb = new StringBuilder($".TH {Roff(agent.Name.ToUpperInvariant())} 8 \"\" \"KvmOcf {Roff(BuildInfo.Version)}\" \"Fence agents\"\n");
        sb.Append(".SH NAME\n").Append($"{Roff(agent.Name)} \\- {Roff(agent.ShortDescription)}\n");
        sb.Append(".SH DESCRIPTION\n").Append(Roff(string.Join(' ', agent.LongDescription.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)))).Append('\n');
        sb.Append(".SH PARAMETERS\n");
        foreach (var o in agent.Options)
            sb.Append(".TP\n").Append($"\\fB{Roff(o.Getopt)}\\fR\n").Append(Roff(o.Parameter.ShortDescription))
              .Append($" ({Roff(string.Join("; ", Facts(o)))}). On stdin: {Roff(o.Name)}=value.\n");
        sb.Append(".SH ACTIONS\n");
        foreach (var a in Actions(agent)) sb.Append(".TP\n").Append($"\\fB{Roff(a)}\\fR\n");
        sb.Append(".SH EXIT STATUS\n0: done (status: on); 2: status off; 1: anything else, a state not confirmed included.\n");
        sb.Append(".SH SEE ALSO\nstonith_admin(8), pcs(8)\n");
        return sb.ToString();
    }

    private static string Roff(string text)
    {
        var escaped = text.Replace("\\", "\\e").Replace("-", "\\-");
        return escaped.Length > 0 && escaped[0] is '.' or '\'' ? "\\&" + escaped : escaped;
    }
}
