using System.Xml;
using System.Xml.Linq;

namespace KvmOcf.IntegrationTests.Harness;

/// <summary>XML that a tool printed (crm_mon, crm_resource, cibadmin, gluster --xml), read with
/// System.Xml.Linq — not with the product's own reader.</summary>
public static class XmlOutput
{
    public static XElement Parse(string text) => XElement.Parse(text);

    /// <summary>The document, or null when the text is not XML (a daemon that cannot answer yet).</summary>
    public static XElement? TryParse(string text)
    {
        try { return XElement.Parse(text); }
        catch (XmlException) { return null; }
    }
}
