using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>Every built agent's meta-data, produced by the real binary with an empty environment
/// and as user nobody, validates against the OCF 1.1 schema and pcs's own.</summary>
public class MetadataSchemaTests
{
    public MetadataSchemaTests()
    {
        Packages.Ensure("libxml2-utils", "pcs", "util-linux");
        Repo.RequireBuild();
    }

    public static TheoryData<string> Agents() => new(Repo.AllOcfAgents().Select(Path.GetFileName)!);

    private static string Binary(string name) =>
        Repo.AllOcfAgents().First(p => Path.GetFileName(p) == name);

    [Theory]
    [MemberData(nameof(Agents))]
    public void Meta_data_validates_against_both_schemas_with_an_empty_environment_as_nobody(string agent)
    {
        // a copy nobody can reach (the checkout may live under /root)
        var copy = Path.Combine(Directory.CreateTempSubdirectory("kvmocf-md-").FullName, agent);
        File.Copy(Binary(agent), copy);
        File.SetUnixFileMode(Path.GetDirectoryName(copy)!, (UnixFileMode)0b111_101_101);
        try
        {
            var asNobody = Sh.Run("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "-i", copy, "meta-data");
            Assert.Equal(0, asNobody.ExitCode);
            Assert.Equal("", asNobody.StandardError);

            var file = copy + ".xml";
            File.WriteAllText(file, asNobody.StandardOutput);
            foreach (var schema in new[] { Repo.OcfSchema, Repo.PcsSchema })
            {
                var lint = Sh.Run("xmllint", "--noout", "--relaxng", schema, file);
                Assert.True(lint.Succeeded, $"{agent} vs {schema}: {lint.StandardError}");
            }
        }
        finally { Directory.Delete(Path.GetDirectoryName(copy)!, recursive: true); }
    }

    [Theory]
    [MemberData(nameof(Agents))]
    public void Man_page_and_help_are_derived_from_the_same_declaration(string agent)
    {
        var man = Sh.Ok(Binary(agent), "manpage").StandardOutput;
        var help = Sh.Ok(Binary(agent), "help").StandardOutput;
        var metadata = XmlOutput.Parse(Sh.Ok(Binary(agent), "meta-data").StandardOutput);
        foreach (var parameter in metadata.Descendants("parameter").Where(p => p.Element("deprecated")?.Element("replaced-with") is null))
        {
            var name = (string)parameter.Attribute("name")!;
            Assert.Contains($"\\fB{name.Replace("-", "\\-")}\\fR", man);
            Assert.Contains($"  {name}: ", help);
        }
        Assert.StartsWith($".TH OCF_KVMOCF_{agent.ToUpperInvariant()} 7", man);
    }
}
