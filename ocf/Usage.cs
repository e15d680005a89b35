using System.Text;

namespace KvmOcf.Ocf;

/// <summary>The usage (help) text of an agent, derived from its declaration.</summary>
public static class Usage
{
    public static string Text(ResourceAgent agent)
    {
        var actions = BuiltInActions.Of(agent).Select(a => a.Name).Distinct();
        var sb = new StringBuilder();
        sb.Append("usage: ").Append(agent.Name).Append(" {").AppendJoin('|', actions).Append("}\n\n");
        sb.Append(agent.Name).Append(" - ").Append(agent.ShortDescription).Append("\n\n");
        Wrap(sb, agent.LongDescription, "");
        sb.Append("\nParameters (environment variables OCF_RESKEY_<name>):\n");
        foreach (var p in agent.Parameters)
        {
            sb.Append("  ").Append(p.Name).Append(": ").Append(p.ShortDescription)
              .Append(" [").AppendJoin("; ", p.Facts()).Append("]\n");
            Wrap(sb, p.LongDescription, "      ");
        }
        sb.Append("\nActions (default operations):\n");
        foreach (var a in BuiltInActions.Of(agent))
            sb.Append("  ").Append(a.Name.PadRight(14)).AppendJoin(", ", a.Facts().Select(f => $"{f.Name} {f.Value}")).Append('\n');
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
