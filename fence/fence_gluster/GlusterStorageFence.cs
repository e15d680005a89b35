using Microsoft.Extensions.Logging;

namespace KvmOcf.Fence.Gluster;

/// <summary>fence_gluster — storage fencing of a node on GlusterFS volumes: the node's addresses go
/// into each volume's <c>auth.reject</c>, and every brick whose glusterd takes the change drops the
/// node's connections at once (its guests' I/O fails; it is not rebooted: fabric fencing). The node's
/// FUSE client then fails to authenticate again, shuts down and unmounts: after unfencing the volume
/// must be mounted again (GlusterMount's monitor finds it gone and pacemaker recovers it). "on" takes them out again (unfencing, which
/// pacemaker runs by itself when the node rejoins). Status is read from the volumes' options, so it
/// works when the fenced node — and its own glusterd — is gone; list shows the clients the bricks see.
/// glusterd changes a volume only for a CLI on its own management socket: over the network
/// (--remote-host) it answers read-only requests (volume info, status) and refuses volume get and
/// set ("GlusterD svc cli read-only", since GlusterFS 5). So the options are set through the socket
/// of the glusterd on this node, a member of the trusted storage pool; the servers are asked only
/// to read (status, list) when that glusterd does not answer.</summary>
public sealed class GlusterStorageFence : FenceAgent
{
    public static readonly StringParameter Volumes = new("volumes")
    {
        Required = true,
        ShortDescription = "The GlusterFS volumes to cut the node off, separated by spaces or commas",
        LongDescription = "Every volume the node's guests or mounts use.",
        Check = v => VolumeNames(v).Any() && VolumeNames(v).All(IsVolumeName) ? null : "is not a list of volume names",
    };

    public static readonly StringParameter Servers = new("servers")
    {
        Required = true,
        ShortDescription = "glusterd servers to ask, separated by spaces or commas (the first that answers is used)",
        LongDescription = "Servers of the trusted storage pool; list more than one, so that fencing works while one is down.",
        Check = s => Words(s).Any() && Words(s).All(w => w.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or ':' or '[' or ']') && w[0] != '-') ? null : "is not a list of host names",
    };

    public static readonly StringParameter GlusterdSocket = new("glusterd_socket")
    {
        Default = "/var/run/glusterd.socket",
        ShortDescription = "The management socket of the glusterd on this node (a member of the trusted storage pool)",
        LongDescription = "glusterd sets volume options (auth.reject) only for a CLI on its own socket; over the network it is read-only. " +
            "Run fence_gluster on nodes of the storage pool (a hyperconverged cluster); servers are asked only to read.",
        Check = p => p.StartsWith('/') ? null : "is not an absolute path",
    };

    public static readonly TimeParameter GlusterTimeout = new("gluster_timeout")
    {
        Default = TimeSpan.FromSeconds(10), Minimum = TimeSpan.FromSeconds(1), Maximum = TimeSpan.FromMinutes(5),
        ShortDescription = "How long a glusterd server has to answer each call",
        LongDescription = "A server that has not answered by then counts as down, and the next one is asked.",
    };

    public override string Name => "fence_gluster";
    public override string ShortDescription => "Storage fencing for GlusterFS: cuts a node off volumes with auth.reject";
    public override string LongDescription =>
        "fence_gluster fences a node at the storage: its addresses (the plug, e.g. from pcmk_host_map=\"node1:10.0.0.1,10.1.0.1\") " +
        "are added to the auth.reject option of every volume listed; the bricks drop the node's connections at once and its FUSE " +
        "mounts of the volumes shut down. This is fabric fencing: the node is not rebooted, it only loses its storage; its guests " +
        "fail at their next I/O. \"on\" removes the addresses again (unfencing: pacemaker runs it when the node rejoins, if the " +
        "device has meta provides=unfencing); the node then mounts the volumes again (pacemaker recovers a GlusterMount resource). " +
        "A brick whose glusterd is down does not see the change: keep client quorum (cluster.quorum-type auto, the default for " +
        "replica 3), so that the majority of bricks cuts the node off. Use it as a second level after power fencing.";

    public override bool Reboots => false;
    public override bool UnfencesAutomatically => true;

    public override IReadOnlyList<FenceOption> Options =>
    [
        .. StandardOptions.Common, StandardOptions.Plug with { Required = true }, StandardOptions.PlugSeparator, StandardOptions.Separator,
        new FenceOption(Volumes), new FenceOption(Servers), new FenceOption(GlusterdSocket), new FenceOption(GlusterTimeout),
    ];

    private static IEnumerable<string> Words(string list) => list.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries);
    private static IEnumerable<string> VolumeNames(string list) => Words(list);
    private static bool IsVolumeName(string v) => v.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && v[0] is not ('-' or '.');

    public override string? Validate(FenceContext ctx) =>
        ctx.Plugs.FirstOrDefault(p => !p.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or ':' or '-' or '*') || p[0] == '-') is { } bad
            ? $"plug {OneLine.Quote(bad)} is not an address or host name" : null;

    /// <summary>Off: every volume rejects the address; on: none does. Partly fenced is on.</summary>
    public override PowerState Status(FenceContext ctx, string plug) =>
        VolumeNames(ctx.Get(Volumes)).All(volume => Rejected(ctx, volume).Contains(plug)) ? PowerState.Off : PowerState.On;

    public override void SetPower(FenceContext ctx, string plug, bool on)
    {
        foreach (var volume in VolumeNames(ctx.Get(Volumes)))
        {
            var rejected = Rejected(ctx, volume);
            if (on != rejected.Contains(plug)) continue;
            var next = on ? rejected.Where(a => a != plug).ToList() : [.. rejected, plug];
            ctx.Log.LogInformation("{Volume}: auth.reject {Addresses}", volume, next.Count > 0 ? string.Join(',', next) : "(none)");
            Gluster(ctx, next.Count > 0 ? ["volume", "set", volume, "auth.reject", string.Join(',', next)] : ["volume", "reset", volume, "auth.reject"], write: true);
        }
    }

    /// <summary>The clients the bricks see (connected: on), and the addresses a volume rejects (off).</summary>
    public override IEnumerable<Outlet>? List(FenceContext ctx)
    {
        var outlets = new SortedDictionary<string, PowerState>(StringComparer.Ordinal);
        foreach (var volume in VolumeNames(ctx.Get(Volumes)))
        {
            var clients = Xml.Parse(Gluster(ctx, ["volume", "status", volume, "clients", "--xml"]));
            foreach (var host in clients.Descendants("clientsStatus").SelectMany(c => c.Descendants("hostname")))
                outlets[Address(host.Text.Trim())] = PowerState.On;
            foreach (var address in Rejected(ctx, volume)) outlets[address] = PowerState.Off;
        }
        return outlets.Select(o => new Outlet(o.Key, o.Key, o.Value));
    }

    /// <summary>"10.0.0.2:49151" → "10.0.0.2"; "[fe80::1]:49151" → "fe80::1".</summary>
    internal static string Address(string hostAndPort)
    {
        if (hostAndPort.StartsWith('[') && hostAndPort.IndexOf(']') is var close and > 0) return hostAndPort[1..close];
        int colon = hostAndPort.LastIndexOf(':');
        return colon > 0 && hostAndPort.IndexOf(':') == colon ? hostAndPort[..colon] : hostAndPort;
    }

    /// <summary>The addresses the volume's auth.reject lists now, from <c>volume info</c> (which a
    /// remote server answers too; <c>volume get</c> only the local one): an option never set or reset
    /// is not listed.</summary>
    private List<string> Rejected(FenceContext ctx, string volume)
    {
        var reply = Xml.Parse(Gluster(ctx, ["volume", "info", volume, "--xml"]));
        var info = reply.Descendants("volume").FirstOrDefault(v => v.Element("name")?.Text.Trim() == volume)
            ?? throw new OperationException(FailureKind.Failed, $"glusterd did not report volume {volume}");
        var value = info.Descendants("option").FirstOrDefault(o => o.Element("name")?.Text.Trim() == "auth.reject")?.Element("value")?.Text.Trim();
        return value is null ? [] : Words(value).ToList();
    }

    /// <summary>Null when the CLI call worked, else what glusterd said (with --xml the CLI exits 0 and
    /// reports failures in opRet/opErrstr).</summary>
    private static string? Answer(CommandResult run, bool xml)
    {
        if (!xml) return run.Succeeded ? null : run.Summary;
        try
        {
            var reply = Xml.Parse(run.StandardOutput);
            return reply.Element("opRet")?.Text.Trim() == "0" ? null : reply.Element("opErrstr")?.Text.Trim() is { Length: > 0 } e ? e : run.Summary;
        }
        catch (FormatException) { return run.Summary; }
    }

    /// <summary>The gluster CLI against this node's glusterd (its socket), then — to read only — the
    /// first server that answers; its output, or why none did.</summary>
    private static string Gluster(FenceContext ctx, string[] command, bool write = false)
    {
        var problems = new List<string>();
        var socket = ctx.Get(GlusterdSocket);
        IEnumerable<(string Name, string Option)> glusterds = [("this node's glusterd", $"--glusterd-sock={socket}")];
        if (!write) glusterds = glusterds.Concat(Words(ctx.Get(Servers)).Select(s => (s, $"--remote-host={s.Trim('[', ']')}")));
        foreach (var (server, option) in glusterds)
        {
            if (option.StartsWith("--glusterd-sock=", StringComparison.Ordinal) && !File.Exists(socket)) { problems.Add($"no glusterd socket {socket}"); continue; }
            var run = new Command("gluster").WithArguments([option, "--mode=script", .. command])
                .TryRun(ctx.Deadline.AtMost(ctx.Get(GlusterTimeout)), ctx.Log);
            if (run is null) { problems.Add($"{server} did not answer"); continue; }
            if (Answer(run, xml: command[^1] == "--xml") is not { } said) return run.StandardOutput;
            // a volume the server does not know is an answer, not a server to skip
            if (said.Contains("does not exist", StringComparison.Ordinal))
                throw new OperationException(FailureKind.Failed, $"{server}: {said} (gluster {string.Join(' ', command.Where(a => a != "--xml"))})");
            problems.Add($"{server}: {OneLine.Of(said, 150)}");
        }
        throw new OperationException(FailureKind.Unreachable, write
            ? $"cannot change the volume: glusterd takes volume set only through its local socket, from a node of the storage pool ({string.Join("; ", problems)})"
            : $"no glusterd server answered: {string.Join("; ", problems)}");
    }
}
