using System.Text;

namespace KvmOcf.Ocf;

/// <summary>The usage (help) text of an agent, derived from its declaration.</summary>
public static class Usage
{
    public static string Text(ResourceAgent agent)
    {
        var actions = agent.Actions.Select(a => a.Name).Append("meta-data").Append("validate-all").Distinct();
        var sb = new StringBuilder();
        sb.Append("usage: ").Append(agent.Name).Append(" {").AppendJoin('|', actions).Append("}\n\n");
        sb.Append(agent.Name).Append(" - ").Append(agent.ShortDescription).Append("\n\n");
        Wrap(sb, agent.LongDescription, "");
        sb.Append("\nParameters (environment variables OCF_RESKEY_<name>):\n");
        foreach (var p in agent.Parameters)
        {
            var facts = new List<string> { p.Required ? "required" : "optional", p.Accepts };
            if (p.DefaultText is { } def) facts.Add("default " + def);
            if (p.UniqueGroup is { } g) facts.Add($"unique ({g})");
            if (p.Reloadable) facts.Add("reloadable");
            if (p.Deprecated is not null) facts.Add("deprecated");
            if (p.FormerNames.Count > 0) facts.Add("formerly " + string.Join(", ", p.FormerNames));
            sb.Append("  ").Append(p.Name).Append(": ").Append(p.ShortDescription)
              .Append(" [").AppendJoin("; ", facts).Append("]\n");
            Wrap(sb, p.LongDescription, "      ");
        }
        sb.Append("\nActions (default timeouts):\n");
        foreach (var a in agent.Actions)
        {
            sb.Append("  ").Append(a.Name.PadRight(14)).Append(TimeParameter.FormatDuration(a.Timeout));
            if (a.Interval is { } i) sb.Append(", every ").Append(TimeParameter.FormatDuration(i));
            if (a.Depth is { } d and > 0) sb.Append(", depth ").Append(d);
            if (a.Role is { } r) sb.Append(", role ").Append(r);
            sb.Append('\n');
        }
        sb.Append("  meta-data     ").Append(TimeParameter.FormatDuration(Metadata.MetaDataTimeout)).Append('\n');
        sb.Append("  validate-all  ").Append(TimeParameter.FormatDuration(Metadata.ValidateTimeout)).Append('\n');
        return sb.ToString();
    }

    private static void Wrap(StringBuilder sb, string text, string indent, int width = 78)
    {
        foreach (var paragraph in text.Split("\n\n"))
        {
            int column = 0;
            foreach (var word in paragraph.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
            {
                if (column > 0 && column + 1 + word.Length > width) { sb.Append('\n'); column = 0; }
                if (column == 0) { sb.Append(indent).Append(word); column = indent.Length + word.Length; }
                else { sb.Append(' ').Append(word); column += 1 + word.Length; }
            }
            sb.Append('\n');
        }
    }
}
