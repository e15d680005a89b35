using System.Globalization;

namespace KvmOcf.Drbd;

/// <summary>Reads <c>drbdsetup events2</c> — DRBD's structured event stream, one object per line:
/// <c>EVENT OBJECT key:value …</c> with EVENT exists/create/change/destroy (call/response for
/// helpers) and OBJECT resource/device/connection/peer-device/path. <c>--now</c> prints every
/// object that exists, then <c>exists -</c>. The same format comes from drbdsetup-84 on a DRBD 8.4
/// kernel (which names no peer node ids) and from DRBD 9; events are applied in order, so a
/// recorded stream (create … change … destroy) gives the state after its last line.</summary>
public static class Events2
{
    /// <summary>Every resource the events describe, by name, after applying them in order.
    /// Lines that are not events (empty, garbage, a helper call) are skipped.</summary>
    public static IReadOnlyDictionary<string, ResourceStatus> Parse(string text)
    {
        var resources = new Dictionary<string, Builder>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var words = raw.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // --timestamps puts the time first: 2024-01-01T12:00:00.000000+00:00 exists …
            if (words.Length > 0 && words[0].Length > 0 && char.IsAsciiDigit(words[0][0])) words = words[1..];
            if (words.Length < 3 || words[0] is not ("exists" or "create" or "change" or "destroy")) continue;
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var word in words.AsSpan(2))
            {
                int colon = word.IndexOf(':');
                if (colon > 0) fields.TryAdd(word[..colon], word[(colon + 1)..]);
            }
            if (!fields.TryGetValue("name", out var name)) continue;
            bool destroy = words[0] == "destroy";
            if (words[1] == "resource")
            {
                if (destroy) { resources.Remove(name); continue; }
                if (!resources.TryGetValue(name, out var r)) resources[name] = r = new Builder(name);
                r.Role = fields.GetValueOrDefault("role") ?? r.Role;
                continue;
            }
            if (!resources.TryGetValue(name, out var b))
            {
                if (destroy) continue;
                resources[name] = b = new Builder(name);   // a device reported before its resource
            }
            b.Apply(words[1], destroy, fields);
        }
        return resources.ToDictionary(kv => kv.Key, kv => kv.Value.Build(), StringComparer.Ordinal);
    }

    /// <summary>The named resource, or null when the events show it does not exist (not configured).</summary>
    public static ResourceStatus? Find(string text, string resource) => Parse(text).GetValueOrDefault(resource);

    private sealed class Builder(string name)
    {
        public string Role = Roles.Unknown;
        private readonly SortedDictionary<int, VolumeState> _volumes = [];
        private readonly Dictionary<string, ConnectionState> _connections = new(StringComparer.Ordinal);

        public void Apply(string kind, bool destroy, Dictionary<string, string> f)
        {
            switch (kind)
            {
                case "device":
                    {
                        int volume = Int(f, "volume") ?? 0;
                        if (destroy) { _volumes.Remove(volume); return; }
                        if (!_volumes.TryGetValue(volume, out var v)) _volumes[volume] = v = new VolumeState();
                        v.Minor = Int(f, "minor") ?? v.Minor;
                        v.Disk = f.GetValueOrDefault("disk") ?? v.Disk;
                        v.Client = Bool(f, "client") ?? v.Client;
                        v.Quorum = Bool(f, "quorum") ?? v.Quorum;
                        return;
                    }
                case "connection":
                    {
                        var key = ConnectionKey(f);
                        if (destroy) { _connections.Remove(key); return; }
                        var c = Connection(key, f);
                        c.State = f.GetValueOrDefault("connection") ?? c.State;
                        c.PeerRole = f.GetValueOrDefault("role") ?? c.PeerRole;
                        return;
                    }
                case "peer-device":
                    {
                        var key = ConnectionKey(f);
                        int volume = Int(f, "volume") ?? 0;
                        if (destroy) { if (_connections.TryGetValue(key, out var gone)) gone.Volumes.Remove(volume); return; }
                        var c = Connection(key, f);
                        if (!c.Volumes.TryGetValue(volume, out var p)) c.Volumes[volume] = p = new PeerVolumeState();
                        p.Replication = f.GetValueOrDefault("replication") ?? p.Replication;
                        p.PeerDisk = f.GetValueOrDefault("peer-disk") ?? p.PeerDisk;
                        p.PeerClient = Bool(f, "peer-client") ?? p.PeerClient;
                        // "done" is printed only while a resync runs
                        p.Done = f.TryGetValue("done", out var d) && double.TryParse(d, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) ? x : null;
                        return;
                    }
            }
        }

        private ConnectionState Connection(string key, Dictionary<string, string> f)
        {
            if (!_connections.TryGetValue(key, out var c)) _connections[key] = c = new ConnectionState();
            c.PeerNodeId = Int(f, "peer-node-id") ?? c.PeerNodeId;
            c.Name = f.GetValueOrDefault("conn-name") ?? c.Name;
            return c;
        }

        /// <summary>DRBD 9 names the peer by node id; 8.4 has one connection and names nothing.</summary>
        private static string ConnectionKey(Dictionary<string, string> f) =>
            f.GetValueOrDefault("peer-node-id") ?? f.GetValueOrDefault("conn-name") ?? "";

        public ResourceStatus Build() => new(name, Role,
            _volumes.Select(kv => new Volume(kv.Key, kv.Value.Minor, kv.Value.Disk, kv.Value.Client, kv.Value.Quorum)).ToList(),
            _connections.Values.Select(c => new Drbd.Connection(c.PeerNodeId, c.Name, c.State, c.PeerRole,
                c.Volumes.Select(kv => new PeerVolume(kv.Key, kv.Value.Replication, kv.Value.PeerDisk, kv.Value.PeerClient, kv.Value.Done)).ToList())).ToList());
    }

    private sealed class VolumeState
    {
        public int Minor = -1;
        public string Disk = DiskStates.Diskless;
        public bool Client;
        public bool Quorum = true;
    }

    private sealed class ConnectionState
    {
        public int? PeerNodeId;
        public string Name = "";
        public string State = ConnectionStates.StandAlone;
        public string PeerRole = Roles.Unknown;
        public readonly SortedDictionary<int, PeerVolumeState> Volumes = [];
    }

    private sealed class PeerVolumeState
    {
        public string Replication = "Off";
        public string PeerDisk = DiskStates.DUnknown;
        public bool PeerClient;
        public double? Done;
    }

    private static int? Int(Dictionary<string, string> f, string key) =>
        f.TryGetValue(key, out var v) && int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : null;

    private static bool? Bool(Dictionary<string, string> f, string key) =>
        f.TryGetValue(key, out var v) ? v switch { "yes" => true, "no" => false, _ => null } : null;
}
