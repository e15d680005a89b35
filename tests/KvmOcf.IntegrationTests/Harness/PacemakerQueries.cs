using System.Xml.Linq;

namespace KvmOcf.IntegrationTests.Harness;

/// <summary>What a pacemaker cluster says through its command-line tools, run by
/// <paramref name="run"/> wherever that runs them: on this machine (<see cref="PacemakerCluster"/>)
/// or on a lab node (<see cref="KvmCluster"/>).</summary>
public sealed class PacemakerQueries(Func<string[], ToolResult> run)
{
    /// <summary>crm_mon's XML view of the cluster, or null while it cannot answer.</summary>
    public XElement? CrmMon()
    {
        var r = run(["crm_mon", "-1", "--output-as=xml"]);
        return r.Succeeded ? XmlOutput.TryParse(r.StandardOutput) : null;
    }

    /// <summary>A utilization attribute of a resource, or null where it has none.</summary>
    public string? Utilization(string resource, string attribute) =>
        XmlOutput.Parse(run(["crm_resource", "-r", resource, "--utilization", "--get-parameter", attribute, "--output-as=xml"]).StandardOutput)
            .Descendants("item").FirstOrDefault()?.Value;

    /// <summary>The CIB's epoch, which every change of the configuration raises.</summary>
    public string? Epoch() => (string?)XmlOutput.Parse(run(["cibadmin", "--query"]).StandardOutput).Attribute("epoch");
}
