namespace KvmOcf.Libvirt;

/// <summary>A domain as the agent names it: by name, by UUID, or both (libvirt is asked by name
/// when there is one; the qemu process table is searched for either).</summary>
public readonly record struct DomainId(string? Name, string? Uuid)
{
    /// <summary>The domain parameter: a UUID in any of the spellings libvirt accepts (dashed or
    /// not, any case) names the domain by UUID; anything else is a name.</summary>
    public static DomainId Parse(string nameOrUuid) =>
        CanonicalUuid(nameOrUuid) is { } uuid ? new DomainId(null, uuid) : new DomainId(nameOrUuid, null);

    /// <summary>The UUID as libvirt and qemu print it (lower case, dashed), or null if it is none.</summary>
    public static string? CanonicalUuid(string text) =>
        Guid.TryParseExact(text.Trim(), "D", out var g) || Guid.TryParseExact(text.Trim(), "N", out g) ? g.ToString("D") : null;

    public bool Matches(string? name, string? uuid) =>
        Name is not null && Name == name || Uuid is not null && uuid is not null && CanonicalUuid(uuid) == Uuid;

    public override string ToString() => Name ?? Uuid ?? "?";
}
