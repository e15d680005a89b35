using System.Text;

namespace KvmOcf.Ocf;

/// <summary>A section-7 man page (<c>ocf_kvmocf_&lt;Agent&gt;.7</c>) in roff, derived from the
/// agent's declaration like its metadata; printed by the <c>manpage</c> action at build time.</summary>
public static class ManPage
{
    public static string Roff(ResourceAgent agent, string provider = "kvmocf")
    {
        var title = $"OCF_{provider.ToUpperInvariant()}_{agent.Name.ToUpperInvariant()}";
        var sb = new StringBuilder();
        sb.Append($".TH {title} 7 \"\" \"KvmOcf {Escape(agent.Version)}\" \"OCF resource agents\"\n");
        sb.Append(".SH NAME\n").Append($"ocf:{provider}:{Escape(agent.Name)} \\- {Escape(agent.ShortDescription)}\n");
        sb.Append(".SH SYNOPSIS\n").Append($".B {Escape(agent.Name)}\n")
          .Append('[').Append(string.Join(" | ", agent.Actions.Select(a => a.Name).Append("meta-data").Append("validate-all").Distinct().Select(Escape))).Append("]\n");
        sb.Append(".SH DESCRIPTION\n");
        Paragraphs(sb, agent.LongDescription);

        sb.Append(".SH SUPPORTED PARAMETERS\n");
        foreach (var p in agent.Parameters)
        {
            var facts = new List<string> { p.Required ? "required" : "optional", p.Accepts };
            if (p.DefaultText is { } d) facts.Add("default " + d);
            if (p.UniqueGroup is not null) facts.Add("unique");
            if (p.Reloadable) facts.Add("reloadable");
            if (p.Deprecated is not null) facts.Add("deprecated");
            sb.Append(".TP\n").Append($"\\fB{Escape(p.Name)}\\fR ({Escape(string.Join(", ", facts))})\n");
            sb.Append(Escape(p.ShortDescription)).Append(". ");
            Paragraphs(sb, p.LongDescription, separator: ".IP\n");
            if (p.FormerNames.Count > 0) sb.Append(".IP\n").Append($"Formerly {Escape(string.Join(", ", p.FormerNames))}, still accepted.\n");
        }

        sb.Append(".SH SUPPORTED ACTIONS\n");
        foreach (var a in agent.Actions)
        {
            sb.Append(".TP\n").Append($"\\fB{Escape(a.Name)}\\fR\n").Append($"timeout {TimeParameter.FormatDuration(a.Timeout)}");
            if (a.Interval is { } i) sb.Append($", interval {TimeParameter.FormatDuration(i)}");
            if (a.Depth is { } depth) sb.Append($", depth {depth}");
            if (a.Role is { } r) sb.Append($", role {Escape(r)}");
            sb.Append('\n');
        }
        sb.Append(".TP\n\\fBmeta-data\\fR\n").Append($"timeout {TimeParameter.FormatDuration(Metadata.MetaDataTimeout)}\n");
        sb.Append(".TP\n\\fBvalidate-all\\fR\n").Append($"timeout {TimeParameter.FormatDuration(Metadata.ValidateTimeout)}\n");

        var required = agent.Parameters.Where(p => p.Required).Select(p => $"{p.Name}=...").ToList();
        sb.Append(".SH EXAMPLE\n.nf\n")
          .Append(Escape($"pcs resource create my{agent.Name} ocf:{provider}:{agent.Name} {string.Join(' ', required)}").TrimEnd()).Append('\n')
          .Append(Escape($"crm configure primitive my{agent.Name} ocf:{provider}:{agent.Name} params {string.Join(' ', required)}").TrimEnd()).Append('\n')
          .Append(".fi\n");
        sb.Append(".SH SEE ALSO\n").Append("pcs(8), crm(8), crm_resource(8)\n");
        return sb.ToString();
    }

    private static void Paragraphs(StringBuilder sb, string text, string separator = ".PP\n")
    {
        var paragraphs = text.Split("\n\n").Select(p => p.Trim()).Where(p => p.Length > 0).ToList();
        for (int i = 0; i < paragraphs.Count; i++)
        {
            if (i > 0) sb.Append(separator);
            sb.Append(Escape(string.Join(' ', paragraphs[i].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)))).Append('\n');
        }
        if (paragraphs.Count == 0) sb.Append('\n');
    }

    /// <summary>Text safe for roff: backslashes, hyphens, and a control character at line start.</summary>
    public static string Escape(string text)
    {
        var escaped = text.Replace("\\", "\\e").Replace("-", "\\-");
        return escaped.Length > 0 && escaped[0] is '.' or '\'' ? "\\&" + escaped : escaped;
    }
}
