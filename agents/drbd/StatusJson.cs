using System.Text.Json;

namespace KvmOcf.Drbd;

/// <summary>Reads <c>drbdsetup status --json</c> (DRBD 9 only; drbdsetup-84 has no JSON): an array
/// of resources, each with <c>role</c>, <c>devices</c> (<c>volume</c>, <c>minor</c>,
/// <c>disk-state</c>, <c>client</c>, <c>quorum</c>) and <c>connections</c> (<c>peer-node-id</c>,
/// <c>name</c>, <c>connection-state</c>, <c>peer-role</c>, <c>peer_devices</c> with
/// <c>volume</c>, <c>replication-state</c>, <c>peer-disk-state</c>, <c>peer-client</c>,
/// <c>percent-resync-done</c>) — as LINBIT/drbd-utils user/v9/drbdsetup.c prints them
/// (<c>resource_status_json</c>, <c>device_status_json</c>, <c>connection_status_json</c>,
/// <c>peer_device_status_json</c>).</summary>
public static class StatusJson
{
    /// <exception cref="FormatException">Not the JSON drbdsetup prints.</exception>
    public static IReadOnlyDictionary<string, ResourceStatus> Parse(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = true });
            if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new FormatException("not a JSON array of resources");
            var result = new Dictionary<string, ResourceStatus>(StringComparer.Ordinal);
            foreach (var r in doc.RootElement.EnumerateArray())
            {
                var name = String(r, "name") ?? throw new FormatException("a resource without a name");
                var volumes = Array(r, "devices").Select(d => new Volume(
                    Int(d, "volume") ?? 0, Int(d, "minor") ?? -1, String(d, "disk-state") ?? DiskStates.Diskless,
                    Bool(d, "client") ?? false, Bool(d, "quorum") ?? true)).ToList();
                var connections = Array(r, "connections").Select(c => new Connection(
                    Int(c, "peer-node-id"), String(c, "name") ?? "", String(c, "connection-state") ?? ConnectionStates.StandAlone,
                    String(c, "peer-role") ?? Roles.Unknown,
                    Array(c, "peer_devices").Select(p => new PeerVolume(
                        Int(p, "volume") ?? 0, String(p, "replication-state") ?? "Off", String(p, "peer-disk-state") ?? DiskStates.DUnknown,
                        Bool(p, "peer-client") ?? false, Double(p, "percent-resync-done"))).ToList())).ToList();
                result[name] = new ResourceStatus(name, String(r, "role") ?? Roles.Unknown, volumes, connections);
            }
            return result;
        }
        catch (JsonException e) { throw new FormatException($"not drbdsetup's JSON: {OneLine.Of(e.Message, 120)}", e); }
    }

    private static IEnumerable<JsonElement> Array(JsonElement e, string name) =>
        e.TryGetProperty(name, out var a) && a.ValueKind == JsonValueKind.Array ? a.EnumerateArray() : [];

    private static string? String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int? Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) ? n : null;

    private static double? Double(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static bool? Bool(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => null } : null;
}
