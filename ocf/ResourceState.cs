namespace KvmOcf.Ocf;

/// <summary>A resource's small persistent facts on this node (a cached domain name, the
/// utilization last written), kept as <c>key=value</c> lines in
/// <c>$HA_RSCTMP/&lt;Agent&gt;-&lt;instance&gt;.state</c>. HA_RSCTMP is emptied at boot, so
/// nothing here outlives the node's own uptime. Writes are atomic (<see cref="AtomicFile"/>).</summary>
public sealed class ResourceState
{
    private readonly Dictionary<string, string> _values;

    private ResourceState(string path, Dictionary<string, string> values)
    {
        Path = path;
        _values = values;
    }

    public string Path { get; }

    public static ResourceState For(OcfContext context)
    {
        var instance = context.Instance.Length > 0 ? context.Instance : "unnamed";
        var safe = string.Concat(instance.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':' ? c : '_'));
        var path = System.IO.Path.Combine(context.Environment.StateDirectory, $"{context.AgentName}-{safe}.state");
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            foreach (var line in File.ReadAllLines(path))
            {
                int eq = line.IndexOf('=');
                if (eq > 0) values[line[..eq]] = line[(eq + 1)..];
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // none yet, or unreadable: start afresh
        return new ResourceState(path, values);
    }

    public string? this[string key] => _values.GetValueOrDefault(key);

    /// <summary>Sets the values and writes the file if anything changed; false if it could not be
    /// written (the state is a cache: callers carry on without it).</summary>
    public bool Update(params (string Key, string? Value)[] changes)
    {
        bool changed = false;
        foreach (var (key, given) in changes)
        {
            if (key.Contains('=') || key.Contains('\n')) throw new ArgumentException($"state key '{key}' cannot be stored");
            // a value that cannot be kept on one line is not kept: the state is a cache
            var value = given?.Contains('\n') == true ? null : given;
            if (value is null) changed |= _values.Remove(key);
            else if (_values.GetValueOrDefault(key) != value) { _values[key] = value; changed = true; }
        }
        if (!changed) return true;
        try
        {
            AtomicFile.Write(Path, string.Concat(_values.Select(kv => $"{kv.Key}={kv.Value}\n")), UnixFileMode.UserRead | UnixFileMode.UserWrite);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }
}
