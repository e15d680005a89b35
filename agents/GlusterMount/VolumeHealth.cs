using KvmOcf.Ocf;

namespace KvmOcf.GlusterMount;

/// <summary>A brick of a volume, as <c>gluster volume status --xml</c> reports it.</summary>
internal sealed record Brick(string Host, string Path, bool Online)
{
    public override string ToString() => $"{Host}:{Path}";
}

/// <summary>The volume's brick status, asked of glusterd on the servers with
/// <c>gluster --remote-host=SERVER volume status VOLUME --xml</c> (the first server that answers).
/// The gluster CLI knows no "--": the volume name is checked never to begin with '-'.</summary>
internal static class VolumeHealth
{
    /// <summary>The bricks, or null when no server answered in time (health unknown — which says
    /// nothing against a mount that works).</summary>
    public static List<Brick>? Query(OcfContext ctx, IEnumerable<string> servers, string volume, TimeSpan budget)
    {
        var until = ctx.Deadline.AtMost(budget);
        foreach (var server in servers)
        {
            // an IPv6 address is bracketed in a device ([fe80::1]:/vol), bare for the CLI (else a name to look up)
            var result = ctx.TryRun(new Command("gluster").WithArguments($"--remote-host={server.Trim('[', ']')}", "--mode=script", "volume", "status", volume, "--xml"),
                TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond * 5, until.Remaining.Ticks)));
            if (result is not null && Parse(result.StandardOutput, volume) is { } bricks) return bricks;
            if (until.Expired) break;
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
