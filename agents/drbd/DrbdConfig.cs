namespace KvmOcf.Drbd;

/// <summary>A resource's configuration as <c>drbdadm dump-xml RESOURCE</c> gives it (8.4 and 9):
/// <c>&lt;resource name&gt;</c> with <c>&lt;host name&gt;</c> elements (volumes, device minors,
/// address) and <c>&lt;section name="net|disk|handlers|…"&gt;</c> of <c>&lt;option name value&gt;</c>.
/// Structured output rather than the drbd.conf text. The dump holds the shared secret: it is never
/// logged, and failures quote drbdadm's stderr only.</summary>
public sealed class DrbdConfig
{
    private readonly XmlElement _resource;

    private DrbdConfig(XmlElement resource) => _resource = resource;

    public string Name => _resource.Attribute("name") ?? "";

    /// <summary>The names of its hosts (<c>on NAME</c> sections).</summary>
    public IReadOnlyList<string> Hosts =>
        [.. _resource.Descendants("host").Select(h => h.Attribute("name")).OfType<string>().Where(n => n.Length > 0).Distinct()];

    /// <summary>The device minors configured for <paramref name="host"/> (compared as
    /// <see cref="NodeNames"/> does), or for every host when it is null.</summary>
    public IReadOnlyList<int> Minors(string? host = null) =>
        [.. _resource.Descendants("host").Where(h => host is null || NodeNames.Same(h.Attribute("name"), host))
            .SelectMany(h => h.Descendants("device"))
            .Select(d => int.TryParse(d.Attribute("minor"), out var m) ? m : -1).Where(m => m >= 0).Distinct().Order()];

    /// <summary>Whether a net section allows two primaries (in the resource or a connection).</summary>
    public bool AllowsTwoPrimaries => Options("net").Any(o => o.Name == "allow-two-primaries" && o.Value is "yes" or "");

    /// <summary>The command configured for the handler <paramref name="handler"/> (fence-peer, …), or null.</summary>
    public string? Handler(string handler) => Options("handlers").FirstOrDefault(o => o.Name == handler).Value;

    /// <summary>The fencing policy (disk section on 8.4, net section on 9), or null when not set.</summary>
    public string? Fencing => Options("disk").Concat(Options("net")).FirstOrDefault(o => o.Name == "fencing").Value;

    private IEnumerable<(string Name, string? Value)> Options(string section) =>
        _resource.Descendants("section").Where(s => s.Attribute("name") == section)
            .SelectMany(s => s.Elements("option")).Select(o => (o.Attribute("name") ?? "", o.Attribute("value")));

    /// <exception cref="FormatException">Not drbdadm's XML, or no such resource in it.</exception>
    public static DrbdConfig Parse(string xml, string resource)
    {
        var root = Xml.Parse(xml);
        var element = root.Name == "resource" && root.Attribute("name") == resource ? root
            : root.Descendants("resource").FirstOrDefault(r => r.Attribute("name") == resource);
        return new DrbdConfig(element ?? throw new FormatException($"the configuration has no resource {resource}"));
    }
}
