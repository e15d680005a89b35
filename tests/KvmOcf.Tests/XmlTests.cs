using System.Xml.Linq;
using KvmOcf.Ocf;

namespace KvmOcf.Tests;

public class XmlTests
{
    [Fact]
    public void Reads_pacemaker_output()
    {
        var root = Xml.Parse("""
            <pacemaker-result api-version="2.25" request="crm_resource -r d1 --utilization --get-parameter cpu --output-as=xml">
              <list name="attributes" count="1">
                <item name="cpu">2</item>
              </list>
              <status code="0" message="OK"/>
            </pacemaker-result>
            """);
        Assert.Equal("pacemaker-result", root.Name);
        Assert.Equal("2", root.Descendants("item").Single().Text);
        Assert.Equal("OK", root.Element("status")!.Attribute("message"));
        Assert.Equal("1", root.Find("list")!.Attribute("count"));
    }

    [Fact]
    public void Reads_declaration_doctype_comments_cdata_and_entities()
    {
        var root = Xml.Parse("<?xml version='1.0' encoding='UTF-8'?>\n<!DOCTYPE domain>\n<!-- c -->" +
                             "<domain type='kvm' x=\"a&amp;b&#x41;&#66;\"><name>v&lt;1&gt;</name><!-- skip --><data><![CDATA[<raw> & ]]></data>" +
                             "<qemu:commandline/></domain>\n<!-- trailing -->\n");
        Assert.Equal("a&bAB", root.Attribute("x"));
        Assert.Equal("v<1>", root.Element("name")!.Text);
        Assert.Equal("<raw> & ", root.Element("data")!.Text);
        Assert.NotNull(root.Element("qemu:commandline"));
    }

    [Fact]
    public void Attribute_whitespace_is_normalised_and_single_quotes_work()
    {
        Assert.Equal("a b c", Xml.Parse("<a v='a\nb\tc'/>").Attribute("v"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("just text")]
    [InlineData("<a>")]
    [InlineData("<a></b>")]
    [InlineData("<a x=1/>")]
    [InlineData("<a x='1' x='2'/>")]
    [InlineData("<a x='1'y='2'/>")]
    [InlineData("<a>&bogus;</a>")]
    [InlineData("<a>&#0;</a>")]
    [InlineData("<a>&#xD800;</a>")]
    [InlineData("<a>&amp</a>")]
    [InlineData("<a/><b/>")]
    [InlineData("<a x='<'/>")]
    [InlineData("<!DOCTYPE a [<!ENTITY x 'boom'>]><a>&x;</a>")]
    [InlineData("<a>\u0001</a>")]
    [InlineData("<a><!-- unterminated </a>")]
    [InlineData("<a>x</a> junk")]
    public void Malformed_or_refused_input_is_a_FormatException(string text)
    {
        Assert.Throws<FormatException>(() => Xml.Parse(text));
    }

    [Fact]
    public void Deep_nesting_is_refused_not_a_stack_overflow()
    {
        var deep = string.Concat(Enumerable.Repeat("<a>", 100_000)) + string.Concat(Enumerable.Repeat("</a>", 100_000));
        Assert.Throws<FormatException>(() => Xml.Parse(deep));
    }

    [Fact]
    public void Escape_round_trips_through_a_real_xml_parser()
    {
        const string nasty = "a<b>&c\"d'e\u0001f\u00e9\U0001F600";
        var escaped = Xml.Escape(nasty);
        var parsed = XElement.Parse($"<x v=\"{escaped}\">{escaped}</x>");
        Assert.Equal("a<b>&c\"d'ef\u00e9\U0001F600", parsed.Value);
        Assert.Equal(parsed.Value, (string?)parsed.Attribute("v"));
        Assert.Equal(parsed.Value, Xml.Parse($"<x v=\"{escaped}\">{escaped}</x>").Text);
    }

    [Fact]
    public void Random_input_never_escapes_as_anything_but_FormatException()
    {
        var random = new Random(7);
        const string alphabet = "<>/=\"'&;#x!-[]?aé \n";
        for (int i = 0; i < 5000; i++)
        {
            var chars = new char[random.Next(0, 60)];
            for (int j = 0; j < chars.Length; j++) chars[j] = alphabet[random.Next(alphabet.Length)];
            try { Xml.Parse("<r>" + new string(chars) + "</r>"); }
            catch (FormatException) { }
        }
    }
}
