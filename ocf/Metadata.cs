using System.Text;

namespace KvmOcf.Ocf;

/// <summary>The meta-data XML of an agent, derived from its declaration. Valid against the OCF 1.1
/// schema and pcs's own: booleans are 0/1, no pacemaker-private attributes, content types limited
/// to boolean/string/integer/select. Every text and attribute value goes through
/// <see cref="Xml.Escape"/>. The DOCTYPE lets ocf-tester run its (OCF 1.0) DTD check.</summary>
public static class Metadata
{
    public const string OcfVersion = "1.1";

    public static string Xml(ResourceAgent agent)
    {
        var w = new Writer();
        w.Line(0, "<?xml version=\"1.0\"?>");
        w.Line(0, "<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">");
        w.Open(0, "resource-agent", ("name", agent.Name), ("version", agent.Version));
        w.Text(1, "version", OcfVersion);
        w.Text(1, "longdesc", agent.LongDescription, ("lang", "en"));
        w.Text(1, "shortdesc", agent.ShortDescription, ("lang", "en"));

        w.Open(1, "parameters");
        foreach (var p in agent.Parameters)
        {
            WriteParameter(w, p, p.Name, replacedBy: null);
            foreach (var former in p.FormerNames) WriteParameter(w, p, former, replacedBy: p.Name);
        }
        w.Close(1, "parameters");

        w.Open(1, "actions");
        foreach (var a in BuiltInActions.Of(agent)) w.Empty(2, "action", [("name", a.Name), .. a.Facts().Select(f => (f.Name, (string?)f.Value))]);
        w.Close(1, "actions");

        w.Close(0, "resource-agent");
        return w.ToString();
    }

    private static void WriteParameter(Writer w, Parameter p, string name, string? replacedBy)
    {
        var attributes = new List<(string, string?)> { ("name", name) };
        if (p.UniqueGroup is { } group && replacedBy is null)
        {
            attributes.Add(("unique-group", group));
            attributes.Add(("unique", "1")); // deprecated in 1.1, still read by crmsh and older tools
        }
        attributes.Add(("required", p.Required && replacedBy is null ? "1" : "0"));
        if (p.Reloadable) attributes.Add(("reloadable", "1"));
        w.Open(2, "parameter", [.. attributes]);

        if (replacedBy is not null || p.Deprecated is not null)
        {
            w.Open(3, "deprecated");
            if (replacedBy is not null) w.Empty(4, "replaced-with", ("name", replacedBy));
            w.Text(4, "desc", replacedBy is not null ? $"Use {replacedBy} instead." : p.Deprecated!, ("lang", "en"));
            w.Close(3, "deprecated");
        }
        w.Text(3, "longdesc", p.LongDescription, ("lang", "en"));
        w.Text(3, "shortdesc", p.ShortDescription, ("lang", "en"));

        if (p.Options.Count == 0)
        {
            w.Empty(3, "content", ("type", p.ContentType), ("default", p.DefaultText));
        }
        else
        {
            w.Open(3, "content", ("type", p.ContentType), ("default", p.DefaultText));
            foreach (var option in p.Options) w.Empty(4, "option", ("value", option));
            w.Close(3, "content");
        }
        w.Close(2, "parameter");
    }

    /// <summary>An indenting writer; attributes whose value is null are left out.</summary>
    private sealed class Writer
    {
        private readonly StringBuilder _sb = new();

        public void Line(int depth, string text) => _sb.Append(' ', depth * 2).Append(text).Append('\n');
        public void Open(int depth, string name, params (string, string?)[] attributes) => Line(depth, $"<{name}{Attributes(attributes)}>");
        public void Close(int depth, string name) => Line(depth, $"</{name}>");
        public void Empty(int depth, string name, params (string, string?)[] attributes) => Line(depth, $"<{name}{Attributes(attributes)}/>");

        public void Text(int depth, string name, string text, params (string, string?)[] attributes) =>
            Line(depth, $"<{name}{Attributes(attributes)}>{KvmOcf.Core.Xml.Escape(text)}</{name}>");

        private static string Attributes((string Name, string? Value)[] attributes) =>
            string.Concat(attributes.Where(a => a.Value is not null).Select(a => $" {a.Name}=\"{KvmOcf.Core.Xml.Escape(a.Value!)}\""));

        public override string ToString() => _sb.ToString();
    }
}
