using System.Globalization;
using System.Text;

namespace KvmOcf.Ocf;

/// <summary>The environment pacemaker hands an agent: OCF_* variables, instance parameters
/// (<c>OCF_RESKEY_*</c>), meta attributes (<c>OCF_RESKEY_CRM_meta_*</c>) and logging settings.
/// Values are decoded as strict UTF-8: a variable whose bytes are not UTF-8 is remembered as
/// invalid, so no parameter is ever read with its bytes silently replaced.</summary>
public sealed class OcfEnvironment
{
    private readonly IReadOnlyDictionary<string, string> _vars;
    private readonly IReadOnlySet<string> _notUtf8;

    public OcfEnvironment(IReadOnlyDictionary<string, string> vars, IReadOnlySet<string>? notUtf8 = null)
    {
        _vars = vars;
        _notUtf8 = notUtf8 ?? new HashSet<string>();
        Meta = new MetaAttributes(this);
    }

    /// <summary>The process's own environment, read as bytes from <c>/proc/self/environ</c>.</summary>
    public static OcfEnvironment FromProcess()
    {
        byte[] raw;
        try { raw = File.ReadAllBytes("/proc/self/environ"); }
        catch (IOException) { return FromDotnet(); }
        catch (UnauthorizedAccessException) { return FromDotnet(); }
        return Parse(raw);
    }

    /// <summary>Parses NUL-separated <c>NAME=value</c> records.</summary>
    public static OcfEnvironment Parse(ReadOnlySpan<byte> environ)
    {
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        var vars = new Dictionary<string, string>(StringComparer.Ordinal);
        var notUtf8 = new HashSet<string>(StringComparer.Ordinal);
        foreach (var range in environ.Split((byte)0))
        {
            var entry = environ[range];
            int eq = entry.IndexOf((byte)'=');
            if (eq <= 0) continue;
            string name = Encoding.UTF8.GetString(entry[..eq]);
            try { vars[name] = strict.GetString(entry[(eq + 1)..]); notUtf8.Remove(name); }
            catch (DecoderFallbackException) { vars.Remove(name); notUtf8.Add(name); }
        }
        return new OcfEnvironment(vars, notUtf8);
    }

    private static OcfEnvironment FromDotnet()
    {
        var vars = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            vars[(string)e.Key] = (string?)e.Value ?? "";
        return new OcfEnvironment(vars);
    }

    /// <summary>The value, or null when unset. A value that is not UTF-8 is a configuration error.</summary>
    public string? this[string name]
    {
        get
        {
            if (_notUtf8.Contains(name))
                throw new OcfException(OcfExitCode.ErrConfigured, $"{name} is not valid UTF-8");
            return _vars.TryGetValue(name, out var v) ? v : null;
        }
    }

    public bool IsNotUtf8(string name) => _notUtf8.Contains(name);

    /// <summary>The value, or null when unset or empty.</summary>
    public string? NonEmpty(string name) => this[name] is { Length: > 0 } v ? v : null;

    public string ResourceInstance => NonEmpty("OCF_RESOURCE_INSTANCE") ?? "";
    public string ExitReasonPrefix => NonEmpty("OCF_EXIT_REASON_PREFIX") ?? "ocf-exit-reason:";
    public string OcfRoot => NonEmpty("OCF_ROOT") ?? "/usr/lib/ocf";
    /// <summary>Where agents keep per-resource state that must not survive a reboot.</summary>
    public string StateDirectory => NonEmpty("HA_RSCTMP") ?? "/run/resource-agents";
    public MetaAttributes Meta { get; }

    /// <summary>Monitor/validate depth: <c>OCF_CHECK_LEVEL</c>, or the pre-2020 spelling
    /// <c>OCF_RESKEY_OCF_CHECK_LEVEL</c>; 0 when neither is set.</summary>
    public int CheckLevel
    {
        get
        {
            foreach (var name in (ReadOnlySpan<string>)["OCF_CHECK_LEVEL", "OCF_RESKEY_OCF_CHECK_LEVEL"])
            {
                if (NonEmpty(name) is not { } text) continue;
                if (int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var level)) return level;
                throw new OcfException(OcfExitCode.ErrConfigured, $"{name}: {OneLine.Quote(text)} is not a check level (0, 10, 20)");
            }
            return 0;
        }
    }

    /// <summary>Debug logging: <c>HA_debug=1</c> (pacemaker's <c>PCMK_debug</c>) or <c>OCF_TRACE_RA</c>.</summary>
    public bool Debug => IsOn("HA_debug") || IsOn("PCMK_debug") || IsOn("OCF_TRACE_RA");

    /// <summary>The syslog facility pacemaker is configured with; "none" turns syslog off.</summary>
    public string LogFacility =>
        NonEmpty("HA_LOGFACILITY") ?? NonEmpty("PCMK_logfacility") ?? NonEmpty("HA_logfacility") ?? "daemon";

    private bool IsOn(string name) =>
        NonEmpty(name) is { } v && v.Trim() is not ("0" or "no" or "false" or "off" or "");
}

/// <summary>Meta attributes of the resource and of the operation (<c>OCF_RESKEY_CRM_meta_*</c>).</summary>
public sealed class MetaAttributes(OcfEnvironment env)
{
    public const string Prefix = "OCF_RESKEY_CRM_meta_";

    /// <summary>A meta attribute by its CIB name (dashes or underscores).</summary>
    public string? this[string name] => env.NonEmpty(Prefix + name.Replace('-', '_'));

    /// <summary>The operation's interval; zero for probes and one-shot actions, null when unset.</summary>
    public TimeSpan? Interval => Milliseconds("interval");
    /// <summary>The operation's timeout, after which pacemaker SIGKILLs the agent's process group.</summary>
    public TimeSpan? Timeout => Milliseconds("timeout");
    public string? OnNode => this["on_node"];
    public string? OnNodeUuid => this["on_node_uuid"];
    public string? PhysicalHost => this["physical_host"];
    public string? OperationName => this["name"];

    public int? Clone => Integer("clone");
    public int? CloneMax => Integer("clone_max");
    public int? CloneNodeMax => Integer("clone_node_max");
    public int? PromotedMax => Integer("promoted_max") ?? Integer("master_max");
    public int? PromotedNodeMax => Integer("promoted_node_max") ?? Integer("master_node_max");
    public bool IsClone => CloneMax is not null;
    public bool IsPromotable => Flag("promotable") || PromotedMax is not null;
    public bool GloballyUnique => Flag("globally_unique");
    public bool NotifyEnabled => Flag("notify");

    public string? MigrateSource => this["migrate_source"];
    public string? MigrateTarget => this["migrate_target"];

    /// <summary>The notification being delivered, for the notify action.</summary>
    public Notification? Notification => this["notify_type"] is { } type
        ? new Notification(type.Trim(), this["notify_operation"]?.Trim() ?? "", this)
        : null;

    /// <summary>The notification variables pacemaker also gives a clone's start, stop, promote and
    /// demote (who is active, promoted, starting, stopping …, with no type or operation): the
    /// notification for a notify action, else those, else null.</summary>
    public Notification? NotificationData => Notification
        ?? (new[] { "active", "inactive", "start", "stop", "promoted", "master", "unpromoted", "slave" }
            .Any(set => Raw($"notify_{set}_resource") is not null || Raw($"notify_{set}_uname") is not null)
            ? new Notification("", "", this) : null);

    internal string? Raw(string name) => env[Prefix + name];

    private TimeSpan? Milliseconds(string name)
    {
        if (this[name] is not { } text) return null;
        // crm_resource and older tools sometimes pass units; accept pacemaker's duration syntax with ms as the bare unit.
        var t = text.Trim();
        if (long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms < 1_000_000_000_000)
            return TimeSpan.FromMilliseconds(ms);
        if (t.Length > 0 && !char.IsAsciiDigit(t[^1]) && TimeParameter.TryParseDuration(t, out var d)) return d;
        throw new OcfException(OcfExitCode.ErrConfigured, $"{Prefix}{name}: {OneLine.Quote(text)} is not a number of milliseconds");
    }

    private int? Integer(string name)
    {
        if (this[name] is not { } text) return null;
        if (int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)) return n;
        throw new OcfException(OcfExitCode.ErrConfigured, $"{Prefix}{name}: {OneLine.Quote(text)} is not an integer");
    }

    private bool Flag(string name) => this[name]?.Trim().ToLowerInvariant() is "true" or "1" or "yes" or "on";
}

/// <summary>A clone notification: its phase, the operation, and who is doing what where.
/// See pacemaker's "Interpretation of Notification Variables".</summary>
public sealed class Notification
{
    internal Notification(string type, string operation, MetaAttributes meta)
    {
        Type = type;
        Operation = operation;
        Start = Peers(meta, "start");
        Stop = Peers(meta, "stop");
        Active = Peers(meta, "active");
        Inactive = Peers(meta, "inactive");
        Promote = Peers(meta, "promote");
        Demote = Peers(meta, "demote");
        Promoted = Peers(meta, "promoted", legacy: "master");
        Unpromoted = Peers(meta, "unpromoted", legacy: "slave");
    }

    /// <summary>"pre" or "post".</summary>
    public string Type { get; }
    /// <summary>"start", "stop", "promote" or "demote".</summary>
    public string Operation { get; }
    public bool IsPre => Type == "pre";
    public bool IsPost => Type == "post";
    public IReadOnlyList<NotifyPeer> Start { get; }
    public IReadOnlyList<NotifyPeer> Stop { get; }
    public IReadOnlyList<NotifyPeer> Active { get; }
    public IReadOnlyList<NotifyPeer> Inactive { get; }
    public IReadOnlyList<NotifyPeer> Promote { get; }
    public IReadOnlyList<NotifyPeer> Demote { get; }
    public IReadOnlyList<NotifyPeer> Promoted { get; }
    public IReadOnlyList<NotifyPeer> Unpromoted { get; }

    private static IReadOnlyList<NotifyPeer> Peers(MetaAttributes meta, string set, string? legacy = null)
    {
        // Prefer the current name whenever pacemaker set it, even empty; older pacemakers set only the legacy one.
        string variable = legacy is not null && meta.Raw($"notify_{set}_resource") is null ? legacy : set;
        var resources = Words(meta.Raw($"notify_{variable}_resource"));
        var nodes = Words(meta.Raw($"notify_{variable}_uname"));
        var peers = new NotifyPeer[Math.Max(resources.Length, nodes.Length)];
        for (int i = 0; i < peers.Length; i++)
            peers[i] = new NotifyPeer(i < resources.Length ? resources[i] : "", i < nodes.Length ? nodes[i] : "");
        return peers;
    }

    private static string[] Words(string? text) =>
        text?.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
}

/// <summary>A clone instance (e.g. <c>drbd0:1</c>) and the node it is on.</summary>
public readonly record struct NotifyPeer(string Resource, string Node);
