using System.Xml.Linq;
using KvmOcf.Ocf;

namespace KvmOcf.Tests;

/// <summary>Shape of the derived meta-data. Schema validation (OCF 1.1 and pcs rng, via xmllint)
/// runs against the built binaries in the integration tests.</summary>
public class MetadataTests
{
    private static readonly XElement Root = XDocument.Parse(Metadata.Xml(new SampleAgent())).Root!;

    private static XElement Param(string name) =>
        Root.Element("parameters")!.Elements("parameter").Single(p => (string?)p.Attribute("name") == name);

    [Fact]
    public void Declares_ocf_1_1_and_the_agent()
    {
        Assert.Equal("Sample", (string?)Root.Attribute("name"));
        Assert.Equal("1.1", Root.Element("version")!.Value);
        Assert.Equal("Sample agent", Root.Element("shortdesc")!.Value);
        Assert.Equal("en", (string?)Root.Element("longdesc")!.Attribute("lang"));
    }

    [Fact]
    public void Descriptions_are_escaped_not_injected()
    {
        var longdesc = Param("path").Element("longdesc")!;
        Assert.Equal("An absolute path <with> \"markup\" & 'quotes'.", longdesc.Value);
        Assert.Empty(longdesc.Elements());
    }

    [Fact]
    public void Parameter_attributes_use_0_and_1()
    {
        var path = Param("path");
        Assert.Equal("1", (string?)path.Attribute("required"));
        Assert.Equal("path", (string?)path.Attribute("unique-group"));
        Assert.Equal("1", (string?)path.Attribute("unique"));
        Assert.Equal("1", (string?)Param("mode").Attribute("reloadable"));
        Assert.Null(Param("count").Attribute("reloadable"));
        foreach (var attr in Root.Descendants("parameter").Attributes().Where(a => a.Name != "name" && a.Name != "unique-group"))
            Assert.Contains(attr.Value, new[] { "0", "1" });
        Assert.Empty(Root.Descendants().Attributes("private"));
    }

    [Fact]
    public void Content_types_and_defaults_come_from_the_declaration()
    {
        Assert.Equal(("integer", "3"), Content("count"));
        Assert.Equal(("boolean", "false"), Content("flag"));
        Assert.Equal(("select", "safe"), Content("mode"));
        Assert.Equal(("string", "30s"), Content("wait"));   // no time type in the OCF 1.1 schema
        Assert.Equal(("string", null), Content("path"));    // required: no default
        Assert.Equal(["fast", "safe"], Param("mode").Element("content")!.Elements("option").Select(o => (string)o.Attribute("value")!));
    }

    private static (string?, string?) Content(string name)
    {
        var content = Param(name).Element("content")!;
        return ((string?)content.Attribute("type"), (string?)content.Attribute("default"));
    }

    [Fact]
    public void Former_names_are_deprecated_parameters_replaced_by_the_new_one()
    {
        var file = Param("file");
        Assert.Equal("0", (string?)file.Attribute("required"));
        Assert.Equal("path", (string?)file.Element("deprecated")!.Element("replaced-with")!.Attribute("name"));
        Assert.Null(file.Attribute("unique-group"));
        Assert.NotNull(Param("old").Element("deprecated")!.Element("desc"));
        // deprecated comes before the descriptions, as the OCF 1.1 schema orders it
        Assert.Equal(["deprecated", "longdesc", "shortdesc", "content"], file.Elements().Select(e => e.Name.LocalName));
    }

    [Fact]
    public void Actions_are_the_declared_ones_plus_meta_data_and_validate_all()
    {
        var actions = Root.Element("actions")!.Elements("action").ToList();
        Assert.Equal(["start", "stop", "monitor", "monitor", "meta-data", "validate-all"], actions.Select(a => (string)a.Attribute("name")!));
        var monitor = actions[2];
        Assert.Equal(("20s", "10s", "0"), ((string?)monitor.Attribute("timeout"), (string?)monitor.Attribute("interval"), (string?)monitor.Attribute("depth")));
        Assert.Equal("Promoted", (string?)actions[3].Attribute("role"));
        Assert.All(actions, a => Assert.NotNull(a.Attribute("timeout")));
    }

    [Fact]
    public void Sample_agent_declaration_is_consistent()
    {
        Assert.Empty(new SampleAgent().Parameters.SelectMany(p => p.DeclarationErrors()));
    }

    [Fact]
    public void Declaration_mistakes_are_caught()
    {
        var noDefault = new IntegerParameter("n") { ShortDescription = "n", LongDescription = "n" };
        Assert.Contains("n: optional but no default", noDefault.DeclarationErrors());
        var badDefault = new SelectParameter("s", "a", "b") { Default = "c", ShortDescription = "s", LongDescription = "s" };
        Assert.Contains("s: default is not an option", badDefault.DeclarationErrors());
        Assert.Throws<ArgumentException>(() => new StringParameter("Bad-Name") { ShortDescription = "", LongDescription = "" });
    }

    /// <summary>One model, three renderings: metadata, usage and man page show the same actions with
    /// the same facts, and every parameter with the same facts.</summary>
    [Fact]
    public void Metadata_usage_and_man_page_render_the_same_declaration()
    {
        var agent = new SampleAgent();
        var usage = Usage.Text(agent);
        var man = ManPage.Roff(agent);
        var actions = Root.Element("actions")!.Elements("action").ToList();
        Assert.Equal(["start", "stop", "monitor", "monitor", "meta-data", "validate-all"], actions.Select(a => (string)a.Attribute("name")!));
        foreach (var a in actions)
        {
            var facts = string.Join(", ", a.Attributes().Where(x => x.Name != "name").Select(x => $"{x.Name} {x.Value}"));
            Assert.Contains($"{((string)a.Attribute("name")!).PadRight(14)}{facts}\n", usage);
            Assert.Contains(ManPage.Escape(facts) + "\n", man);
        }
        foreach (var p in agent.Parameters)
        {
            var facts = string.Join("; ", p.Facts());
            Assert.Contains($"  {p.Name}: {p.ShortDescription} [{facts}]", usage);
            Assert.Contains($"\\fB{ManPage.Escape(p.Name)}\\fR ({ManPage.Escape(facts)})", man);
        }
    }
}
