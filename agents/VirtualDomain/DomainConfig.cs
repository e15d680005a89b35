using System.Globalization;
using KvmOcf.Ocf;

namespace KvmOcf.VirtualDomain;

/// <summary>What the agent needs from a libvirt domain XML: identity, size, and what it depends on
/// (storage pools, networks, a guest agent channel).</summary>
internal sealed record DomainConfig(
    string Name,
    string? Uuid,
    int VirtCpus,
    long MemoryMiB,
    bool HasGuestAgent,
    IReadOnlyList<string> Pools,
    IReadOnlyList<string> Networks,
    IReadOnlyList<string> DiskFiles,
    string? Emulator)
{
    /// <exception cref="FormatException">Not a domain XML this agent can use.</exception>
    public static DomainConfig Parse(string xml)
    {
        var domain = Xml.Parse(xml);
        if (domain.Name != "domain") throw new FormatException($"root element is <{domain.Name}>, not <domain>");
        var name = domain.Element("name")?.Text.Trim();
        if (string.IsNullOrEmpty(name)) throw new FormatException("no <name>");
        var uuid = domain.Element("uuid")?.Text.Trim();
        var vcpu = domain.Element("vcpu");
        int cpus = vcpu?.Attribute("current") is { } current ? ParseInt(current, "vcpu current") : vcpu is null ? 1 : ParseInt(vcpu.Text, "vcpu");
        var memory = domain.Element("memory") ?? throw new FormatException("no <memory>");
        var devices = domain.Element("devices");
        return new DomainConfig(
            name,
            string.IsNullOrEmpty(uuid) ? null : uuid,
            cpus,
            ToMiB(memory.Text, memory.Attribute("unit")),
            devices?.Elements("channel").Any(c => c.Element("target")?.Attribute("name") == "org.qemu.guest_agent.0") == true,
            Distinct(devices?.Elements("disk").Select(d => d.Element("source")?.Attribute("pool"))),
            Distinct(devices?.Elements("interface").Where(i => i.Attribute("type") == "network").Select(i => i.Element("source")?.Attribute("network"))),
            Distinct(devices?.Elements("disk").Where(d => d.Attribute("type") == "file").Select(d => d.Element("source")?.Attribute("file"))),
            devices?.Element("emulator")?.Text.Trim());
    }

    private static IReadOnlyList<string> Distinct(IEnumerable<string?>? values) =>
        values?.Where(v => !string.IsNullOrEmpty(v)).Select(v => v!).Distinct().ToList() ?? [];

    private static int ParseInt(string text, string what) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n : throw new FormatException($"<{what}> is not a positive number");

    /// <summary>libvirt's memory units; the default is KiB.</summary>
    internal static long ToMiB(string text, string? unit)
    {
        if (!long.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            throw new FormatException("<memory> is not a number");
        long bytesPerUnit = (unit ?? "KiB") switch
        {
            "b" or "bytes" => 1,
            "KB" => 1000, "k" or "KiB" => 1L << 10,
            "MB" => 1000_000, "M" or "MiB" => 1L << 20,
            "GB" => 1000_000_000, "G" or "GiB" => 1L << 30,
            "TB" => 1000_000_000_000, "T" or "TiB" => 1L << 40,
            _ => throw new FormatException($"unknown memory unit '{unit}'"),
        };
        return (long)(n * (decimal)bytesPerUnit / (1 << 20));
    }
}
