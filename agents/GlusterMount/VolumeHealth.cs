using KvmOcf.Ocf;

namespace KvmOcf.GlusterMount;

/// <summary>A brick of a volume, as <c>gluster volume status --xml</c> reports it.</summary>
internal sealed record Brick(string Host, string Path, bool Online)
{
    public override string ToString() => $"{Host}:{Path}";
}

/// <summary>The volume's brick status, asked of glusterd on the servers with
/// <c>gluster --remote-host=SERVER volume status VOLUME --xml</c> (the first server that answers).</summary>
internal static class VolumeHealth
{
    /// <summary>The bricks, or null when no server answered (health unknown — which says nothing
    /// against a mount that works).</summary>
    public static List<Brick>? Query(OcfContext ctx, IEnumerable<string> servers, string volume, Deadline deadline)
    {
        foreach (var server in servers)
        {
            CommandResult result;
            try
            {
                result = new Command("gluster").WithArguments($"--remote-host={server}", "--mode=script", "volume", "status", volume, "--xml")
                    .Run(deadline.AtMost(TimeSpan.FromSeconds(5)), ctx.Log);
            }
            catch (CommandTimeoutException) { continue; }
            if (Parse(result.StandardOutput, volume) is { } bricks) return bricks;
        }
        return null;
    }

    internal static List<Brick>? Parse(string xml, string volume)
    {
        XmlElement root;
        try { root = Xml.Parse(xml); } catch (FormatException) { return null; }
        if (root.Element("opRet")?.Text.Trim() != "0") return null;
        var vol = root.Descendants("volume").FirstOrDefault(v => v.Element("volName")?.Text.Trim() == volume);
        if (vol is null) return null;
        return vol.Elements("node")
            .Where(n => n.Element("path")?.Text.StartsWith('/') == true)   // bricks; not the self-heal daemons
            .Select(n => new Brick(n.Element("hostname")?.Text.Trim() ?? "?", n.Element("path")!.Text.Trim(), n.Element("status")?.Text.Trim() == "1"))
            .ToList();
    }
}
