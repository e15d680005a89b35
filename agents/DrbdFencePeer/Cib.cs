using System.Globalization;
using KvmOcf.Drbd;

namespace KvmOcf.DrbdFencePeer;

/// <summary>What the handler reads from the CIB (<c>cibadmin --query</c>, XML): quorum, the nodes
/// and their state, two cluster properties, the promotable clone of a DRBD resource and the
/// fencing constraint. Read as XML elements and attributes, never as text.</summary>
internal sealed class Cib
{
    private readonly XmlElement _root;

    private Cib(XmlElement root) => _root = root;

    /// <exception cref="FormatException">Not a CIB.</exception>
    public static Cib Parse(string xml)
    {
        var root = Xml.Parse(xml);
        return root.Name == "cib" ? new Cib(root) : throw new FormatException($"<{root.Name}> is not a CIB");
    }

    /// <summary>The partition the CIB was read from has quorum (have-quorum on the root).</summary>
    public bool HaveQuorum => _root.Attribute("have-quorum") is "1" or "true";

    /// <summary>The schema the CIB validates against, e.g. pacemaker-3.9.</summary>
    public string ValidateWith => _root.Attribute("validate-with") ?? "";

    /// <summary>Whether the schema knows the role names Promoted/Unpromoted (pacemaker-3.7 and later;
    /// older schemas know only Master/Slave).</summary>
    public bool KnowsPromotedRole
    {
        get
        {
            var v = ValidateWith;
            if (!v.StartsWith("pacemaker-", StringComparison.Ordinal)) return false;
            var parts = v["pacemaker-".Length..].Split('.');
            return parts.Length == 2 && int.TryParse(parts[0], out var major) && int.TryParse(parts[1], out var minor) &&
                   (major > 3 || major == 3 && minor >= 7);
        }
    }

    /// <summary>Cluster nodes (type="ping" nodes run no resources and are left out).</summary>
    public IReadOnlyList<string> Nodes =>
        [.. _root.Find("configuration/nodes")?.Elements("node").Where(n => n.Attribute("type") != "ping")
            .Select(n => n.Attribute("uname")).OfType<string>() ?? []];

    /// <summary>A permanent node attribute (what crm_attribute --type nodes reads), or null.</summary>
    public string? NodeAttribute(string node, string name) =>
        _root.Find("configuration/nodes")?.Elements("node").FirstOrDefault(n => n.Attribute("uname") == node)?
            .Elements("instance_attributes").SelectMany(a => a.Elements("nvpair")).FirstOrDefault(p => p.Attribute("name") == name)?.Attribute("value");

    /// <summary>The status section's view of a node, or null when it has none.</summary>
    public NodeState? StateOf(string node)
    {
        var e = _root.Find("status")?.Elements("node_state").FirstOrDefault(s => s.Attribute("uname") == node);
        return e is null ? null : new NodeState(node, e.Attribute("in_ccm"), e.Attribute("crmd"), e.Attribute("expected"), e.Attribute("join"));
    }

    /// <summary>A cluster property (crm_config), or null.</summary>
    public string? Property(string name) =>
        _root.Find("configuration/crm_config")?.Elements("cluster_property_set").SelectMany(s => s.Elements("nvpair"))
            .FirstOrDefault(p => (p.Attribute("name") ?? "").Replace('_', '-') == name)?.Attribute("value");

    /// <summary>"Not false" as crm-fence-peer reads stonith-enabled and startup-fencing (unset is true).</summary>
    public bool PropertyNotFalse(string name) => Property(name)?.Trim().ToLowerInvariant() is not ("no" or "n" or "false" or "0" or "off");

    /// <summary>The id of the promotable clone (or legacy master) whose primitive manages
    /// <paramref name="drbdResource"/> (instance attribute drbd_resource), or null.</summary>
    public string? CloneOf(string drbdResource)
    {
        var resources = _root.Find("configuration/resources");
        if (resources is null) return null;
        return resources.Descendants("clone").Concat(resources.Descendants("master"))
            .Where(c => c.Descendants("primitive").Any(p => p.Elements("instance_attributes")
                .SelectMany(a => a.Elements("nvpair")).Any(n => n.Attribute("name") == "drbd_resource" && n.Attribute("value") == drbdResource)))
            .Select(c => c.Attribute("id")).FirstOrDefault();
    }

    /// <summary>The location constraint with this id, read as a fencing constraint, or null.</summary>
    public FencingConstraint? Constraint(string id)
    {
        var e = _root.Find("configuration/constraints")?.Elements("rsc_location").FirstOrDefault(c => c.Attribute("id") == id);
        return e is null ? null : FencingConstraint.From(e);
    }
}

/// <summary>A node's status entry (node_state). Pacemaker 2.1.5 writes in_ccm and crmd as
/// true/false and online/offline; later versions as timestamps (nonzero = since when).</summary>
internal sealed record NodeState(string Node, string? InCcm, string? Crmd, string? Expected, string? Join)
{
    public bool InMembership => InCcm is { Length: > 0 } v && v is not ("false" or "0");
    public bool ControllerOnline => Crmd is "online" || Crmd is { Length: > 0 } v && long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var t) && t > 0;
    public bool ExpectedDown => Expected is null or "down";
}

/// <summary>The constraint the fence-peer handler places: "promote the clone nowhere but on the
/// nodes with good data" —
/// <c>&lt;rsc_location id rsc&gt;&lt;rule role score="-INFINITY"&gt;&lt;expression attribute
/// operation="ne" value/&gt;…</c>. The rule applies (forbids promotion) on a node whose attribute
/// differs from every value, so the values are the nodes still allowed.</summary>
internal sealed record FencingConstraint(string Id, string CloneId, string Role, IReadOnlyList<(string Attribute, string Value)> Allowed)
{
    public string RuleId(string prefix) => $"{prefix}-rule-{CloneId}";

    /// <summary>The XML for cibadmin: ids derived from the prefix, one expression per allowed node.</summary>
    public string ToXml(string prefix) =>
        $"<rsc_location rsc=\"{Xml.Escape(CloneId)}\" id=\"{Xml.Escape(Id)}\">" +
        $"<rule role=\"{Xml.Escape(Role)}\" score=\"-INFINITY\" id=\"{Xml.Escape(RuleId(prefix))}\">" +
        string.Concat(Allowed.Select((a, i) =>
            $"<expression attribute=\"{Xml.Escape(a.Attribute)}\" operation=\"ne\" value=\"{Xml.Escape(a.Value)}\" id=\"{Xml.Escape($"{prefix}-expr-{i}-{CloneId}")}\"/>")) +
        "</rule></rsc_location>";

    /// <summary>Reads one from the CIB; null when the element is not of that shape (then it is not
    /// the handler's to change).</summary>
    public static FencingConstraint? From(XmlElement e)
    {
        var rules = e.Elements("rule").ToList();
        if (rules.Count != 1 || e.Attribute("id") is not { } id || e.Attribute("rsc") is not { } rsc) return null;
        var rule = rules[0];
        if (rule.Attribute("score") is not ("-INFINITY" or "-infinity") || (rule.Attribute("boolean-op") ?? "and") != "and") return null;
        var allowed = new List<(string, string)>();
        foreach (var x in rule.Elements("expression"))
        {
            if (x.Attribute("operation") != "ne" || x.Attribute("attribute") is not { } a || x.Attribute("value") is not { } v) return null;
            allowed.Add((a, v));
        }
        return new FencingConstraint(id, rsc, rule.Attribute("role") ?? "", allowed);
    }

    /// <summary>Master and Promoted are one role (the name changed in pacemaker 2.1).</summary>
    public static bool SameRole(string a, string b) => Canonical(a) == Canonical(b);
    private static string Canonical(string role) => role.ToLowerInvariant() is "master" or "promoted" ? "promoted" : role.ToLowerInvariant();

    /// <summary>The same constraint in effect: clone, role and the set of allowed nodes.</summary>
    public bool Equivalent(FencingConstraint other) =>
        CloneId == other.CloneId && SameRole(Role, other.Role) &&
        Allowed.Select(a => (a.Attribute, a.Value.ToLowerInvariant())).ToHashSet().SetEquals(other.Allowed.Select(a => (a.Attribute, a.Value.ToLowerInvariant())));

    /// <summary>Whether it forbids promotion on <paramref name="node"/>: no expression allows it.
    /// <paramref name="attributeOf"/> gives a node's value of a node attribute (#uname: its name).</summary>
    public bool Rejects(string node, Func<string, string, string?> attributeOf) =>
        !Allowed.Any(a => a.Attribute == "#uname" ? NodeNamesSame(a.Value, node) : attributeOf(node, a.Attribute) == a.Value);

    private static bool NodeNamesSame(string a, string b) => Drbd.NodeNames.Same(a, b);

    /// <summary>This constraint with <paramref name="nodes"/> no longer allowed (a later fence only
    /// restricts further, never lifts a restriction).</summary>
    public FencingConstraint Without(IEnumerable<(string Attribute, string Value)> nodes)
    {
        var gone = nodes.Select(n => (n.Attribute, n.Value.ToLowerInvariant())).ToHashSet();
        return this with { Allowed = [.. Allowed.Where(a => !gone.Contains((a.Attribute, a.Value.ToLowerInvariant())))] };
    }
}
