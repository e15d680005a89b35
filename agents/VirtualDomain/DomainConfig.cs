using KvmOcf.Libvirt;
using KvmOcf.Ocf;

namespace KvmOcf.VirtualDomain;

/// <summary>A disk of the guest, as far as disk leases care: where it lives and whether the guest
/// may write it.</summary>
internal sealed record GuestDisk(string Target, string? File, string? Pool, string? Volume, bool Network, bool ReadOnly, bool Shareable)
{
    public bool Writable => !ReadOnly && !Shareable;
    public override string ToString() => File ?? (Pool is not null ? $"{Pool}/{Volume}" : Target);
}

/// <summary>What the agent needs from a libvirt domain XML: identity, and what it depends on
/// (storage pools, networks, disks, a guest agent channel). Nothing else is read — sizes, units
/// and devices are libvirt's to check — so a spelling libvirt accepts can never make the agent
/// lose track of which guest this is.</summary>
internal sealed record DomainConfig(
    string Name,
    string? Uuid,
    bool HasGuestAgent,
    IReadOnlyList<string> Pools,
    IReadOnlyList<string> Networks,
    IReadOnlyList<GuestDisk> Disks,
    int Leases,
    string? Emulator)
{
    public DomainId Id => new(Name, Uuid);

    /// <exception cref="FormatException">Not a domain XML this agent can use.</exception>
    public static DomainConfig Parse(string xml)
    {
        var domain = Xml.Parse(xml);
        if (domain.Name != "domain") throw new FormatException($"root element is <{domain.Name}>, not <domain>");
        var name = domain.Element("name")?.Text.Trim();
        if (string.IsNullOrEmpty(name)) throw new FormatException("no <name>");
        var uuid = domain.Element("uuid")?.Text.Trim();
        if (!string.IsNullOrEmpty(uuid) && DomainId.CanonicalUuid(uuid) is null) throw new FormatException($"<uuid> '{OneLine.Of(uuid, 40)}' is not a UUID");
        var devices = domain.Element("devices");
        return new DomainConfig(
            name,
            string.IsNullOrEmpty(uuid) ? null : DomainId.CanonicalUuid(uuid),
            devices?.Elements("channel").Any(c => c.Element("target")?.Attribute("name") == "org.qemu.guest_agent.0") == true,
            Distinct(devices?.Elements("disk").Select(d => d.Element("source")?.Attribute("pool"))),
            Distinct(devices?.Elements("interface").Where(i => i.Attribute("type") == "network").Select(i => i.Element("source")?.Attribute("network"))),
            devices?.Elements("disk").Select(Disk).ToList() ?? [],
            devices?.Elements("lease").Count() ?? 0,
            devices?.Element("emulator")?.Text.Trim());
    }

    private static GuestDisk Disk(XmlElement disk)
    {
        var source = disk.Element("source");
        var type = disk.Attribute("type");
        return new GuestDisk(
            disk.Element("target")?.Attribute("dev") ?? "?",
            type is "file" ? source?.Attribute("file") : type is "block" ? source?.Attribute("dev") : null,
            type is "volume" ? source?.Attribute("pool") : null,
            type is "volume" ? source?.Attribute("volume") : null,
            type is "network",
            disk.Element("readonly") is not null || disk.Attribute("device") is "cdrom" or "floppy",
            disk.Element("shareable") is not null);
    }

    private static IReadOnlyList<string> Distinct(IEnumerable<string?>? values) =>
        values?.Where(v => !string.IsNullOrEmpty(v)).Select(v => v!).Distinct().ToList() ?? [];
}
