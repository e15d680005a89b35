namespace KvmOcf.Drbd;

/// <summary>Node names as each part of the stack spells them: pacemaker (the CIB's node unames,
/// notify variables, <c>crm_resource --locate</c>) compares them without regard to case; corosync's
/// nodelist may hold a short name where DRBD's <c>on</c> sections and <c>uname -n</c> hold the
/// fully qualified one, or the other way round (LINBIT/drbd-utils bb9e99df: a mismatch left the
/// anchor with a broken command). Two names are the same node when they are equal ignoring case,
/// or when one is the other's first label (a short name against a qualified one). Two qualified
/// names in different domains, and addresses, are never shortened.</summary>
public static class NodeNames
{
    public static bool Same(string? a, string? b)
    {
        if (string.IsNullOrEmpty(a) || string.IsNullOrEmpty(b)) return false;
        if (string.Equals(a, b, StringComparison.OrdinalIgnoreCase)) return true;
        if (IsAddress(a) || IsAddress(b)) return false;
        bool aShort = !a.Contains('.'), bShort = !b.Contains('.');
        if (aShort == bShort) return false;   // both short and different, or both qualified and different
        return string.Equals(ShortName(a), ShortName(b), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The one candidate that names the same node as <paramref name="name"/> (an exact
    /// match ignoring case wins); null when none or more than one do.</summary>
    public static string? Match(string? name, IEnumerable<string> candidates)
    {
        var list = candidates.Where(c => !string.IsNullOrEmpty(c)).Distinct(StringComparer.Ordinal).ToList();
        var exact = list.Where(c => string.Equals(c, name, StringComparison.OrdinalIgnoreCase)).ToList();
        if (exact.Count == 1) return exact[0];
        var same = list.Where(c => Same(name, c)).ToList();
        return same.Count == 1 ? same[0] : null;
    }

    public static string ShortName(string name) => IsAddress(name) ? name : name.Split('.')[0];

    private static bool IsAddress(string name) => name.Contains(':') || name.All(c => char.IsAsciiDigit(c) || c == '.');
}
