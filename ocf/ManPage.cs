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
          .Append('[').Append(string.Join(" | ", BuiltInActions.Of(agent).Select(a => a.Name).Distinct().Select(Escape))).Append("]\n");
        sb.Append(".SH DESCRIPTION\n");
        Paragraphs(sb, agent.LongDescription);

        sb.Append(".SH SUPPORTED PARAMETERS\n");
        foreach (var p in agent.Parameters)
        {
            sb.Append(".TP\n").Append($"\\fB{Escape(p.Name)}\\fR ({Escape(string.Join("; ", p.Facts()))})\n");
            sb.Append(Escape(p.ShortDescription)).Append(". ");
            Paragraphs(sb, p.LongDescription, separator: ".IP\n");
        }

        sb.Append(".SH SUPPORTED ACTIONS\n");
        foreach (var a in BuiltInActions.Of(agent))
            sb.Append(".TP\n").Append($"\\fB{Escape(a.Name)}\\fR\n").Append(Escape(string.Join(", ", a.Facts().Select(f => $"{f.Name} {f.Value}")))).Append('\n');

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
