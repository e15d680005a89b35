namespace KvmOcf.VirtualDomain;

/// <summary>Where a migration goes: the control URI of the target's libvirtd and the data URI the
/// guest's memory travels over, derived as the anchor agent derives them (remoteuri, or the local
/// hypervisor URI with the target host, migration_user, migration_transport and
/// migration_network_suffix; migrateuri, or --migrateuri in migrate_options, or a tcp URI on the
/// suffixed host) — except that "%n" always means the target node's name.</summary>
internal static class MigrationUris
{
    public static bool IsUserName(string user) =>
        user.Length > 0 && (char.IsAsciiLetterLower(user[0]) || user[0] == '_') &&
        user.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_');

    /// <summary>The node name with the suffix inserted before its first dot (FQDN-aware).</summary>
    public static string WithSuffix(string node, string suffix)
    {
        if (suffix.Length == 0) return node;
        int dot = node.IndexOf('.');
        return dot < 0 ? node + suffix : node[..dot] + suffix + node[dot..];
    }

    /// <summary>The target libvirtd's URI.</summary>
    public static string Remote(string localUri, string target, string? template, string transport, string suffix, string user)
    {
        if (!string.IsNullOrEmpty(template)) return template.Replace("%n", target);
        var host = (user.Length > 0 ? user + "@" : "") + WithSuffix(target, suffix);
        int schemeEnd = localUri.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0) throw new FormatException($"hypervisor URI '{localUri}' has no '://'");
        var scheme = localUri[..schemeEnd];
        if (transport.Length > 0) scheme = scheme.Split('+')[0] + "+" + transport;
        var rest = localUri[(schemeEnd + 3)..];
        int pathStart = rest.IndexOf('/');
        var authority = pathStart < 0 ? rest : rest[..pathStart];
        var path = pathStart < 0 ? "/" : rest[pathStart..];
        // keep an explicit port of the local URI, as the anchor does; drop its user and host
        int at = authority.LastIndexOf('@');
        var hostPort = at >= 0 ? authority[(at + 1)..] : authority;
        int colon = hostPort.LastIndexOf(':');
        var port = colon >= 0 && hostPort[(colon + 1)..].All(char.IsAsciiDigit) && colon + 1 < hostPort.Length ? hostPort[colon..] : "";
        return $"{scheme}://{host}{port}{path}";
    }

    /// <summary>The hypervisor-specific data URI, or null to let libvirt choose.</summary>
    public static string? Data(string? migrateUri, string? fromOptions, string localUri, string target, string suffix, long port)
    {
        if (!string.IsNullOrEmpty(migrateUri)) return migrateUri.Replace("%n", target);
        if (!string.IsNullOrEmpty(fromOptions)) return fromOptions.Replace("%n", target);
        if (suffix.Length == 0) return null;
        var scheme = localUri.Split(':', '+')[0];
        if (scheme != "qemu") return null;
        var host = WithSuffix(target, suffix);
        return port > 0 ? $"tcp://{host}:{port}" : $"tcp://{host}";
    }
}
