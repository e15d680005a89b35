using KvmOcf.Ocf;

namespace KvmOcf.GlusterMount;

/// <summary>ocf:kvmocf:GlusterMount — a GlusterFS volume mounted over FUSE, where the guests' disk
/// images live. The monitor checks that the mount answers, not just that it is in the mount table
/// (a dead FUSE client stays listed; hung bricks make every access hang), reads and writes it at
/// deeper levels, and reports a degraded volume (bricks down) before it becomes an outage. stop
/// signals only the processes that really use the mount.</summary>
public sealed class GlusterMountAgent : ResourceAgent
{
    public static readonly StringParameter Device = new("device")
    {
        Required = true,
        UniqueGroup = "device",
        ShortDescription = "Volume to mount",
        LongDescription = "The GlusterFS volume as server:/volume (or server:/volume/subdirectory). The server is where " +
            "the client fetches the volume's layout; see backup_volfile_servers.",
        Check = d => GlusterDevice.TryParse(d, out _) ? null : "is not server:/volume",
    };

    public static readonly StringParameter Directory = new("directory")
    {
        Required = true,
        UniqueGroup = "directory",
        ShortDescription = "Mount point",
        LongDescription = "The absolute path of the mount point. Created if missing.",
        Check = d => !Path.IsPathFullyQualified(d) ? "is not an absolute path" : d.TrimEnd('/').Length == 0 ? "is the root directory" : null,
    };

    public static readonly StringParameter Options = new("options")
    {
        ShortDescription = "Mount options",
        LongDescription = "Options for mount -o, comma-separated (key or key=value), e.g. log-level=WARNING,_netdev.",
        Check = MountOptions.Check,
    };

    public static readonly StringParameter BackupVolfileServers = new("backup_volfile_servers")
    {
        ShortDescription = "Other servers to fetch the volume from",
        LongDescription = "Servers the client tries when the device's server is down, separated by colons or spaces " +
            "(passed as backup-volfile-servers). They also serve the volume health checks.",
        Check = s => GlusterDevice.Servers(s).All(GlusterDevice.IsHost) ? null : "is not a list of host names",
    };

    public static readonly StringParameter HealthServers = new("health_servers")
    {
        ShortDescription = "Servers to ask for the volume's health",
        LongDescription = "glusterd servers asked (gluster --remote-host) for the status of the volume's bricks, " +
            "separated by colons or spaces. Default: the device's server and the backup volfile servers.",
        Check = s => GlusterDevice.Servers(s).All(GlusterDevice.IsHost) ? null : "is not a list of host names",
    };

    public static readonly TimeParameter HealthInterval = new("health_interval")
    {
        Default = TimeSpan.FromMinutes(1),
        Maximum = TimeSpan.FromDays(1),
        ShortDescription = "How often to check the volume's health",
        LongDescription = "A monitor asks for the bricks' status at most this often (it costs a gluster CLI call) and " +
            "reports OCF_DEGRADED while bricks are down and the mount still works. 0 turns the check off.",
    };

    public static readonly SelectParameter ForceUnmount = new("force_unmount", "true", "safe", "false")
    {
        Default = "true",
        ShortDescription = "Kill processes that block the unmount",
        LongDescription = "When the mount is busy at stop: true (or safe, its synonym here) sends TERM, then KILL, to " +
            "the processes that hold files, a working directory or a mapping on this mount — found through /proc, " +
            "never fuser -m — and finally detaches it lazily; false fails the stop instead.",
    };

    public static readonly BooleanParameter FastStop = new("fast_stop")
    {
        ShortDescription = "Skip the TERM grace period",
        LongDescription = "At stop, KILL the processes using the mount at once instead of sending TERM first.",
    };

    public static readonly StringParameter StatusFilePrefix = new("statusfile_prefix")
    {
        Default = ".Filesystem_status/",
        ShortDescription = "The prefix to be used for a status file for resource monitoring with depth 20",
        LongDescription = "A monitor with OCF_CHECK_LEVEL=20 writes, syncs and reads back the file " +
            "<directory>/<prefix><resource>_<node>.",
        Check = p => p.Contains("..") || p.StartsWith('/') ? "must be a relative path inside the mount" : null,
    };

    public override string Name => "GlusterMount";
    public override string ShortDescription => "Mounts a GlusterFS volume and checks that it answers";
    public override string LongDescription =>
        "Mounts a GlusterFS volume over FUSE (mount -t glusterfs), typically cloned on every node with the virtual " +
        "machines ordered after it.\n\n" +
        "monitor (depth 0): the mount is in the mount table and answers a statfs within the timeout — a dead FUSE " +
        "client (Transport endpoint is not connected) or hung bricks are errors, never success. Depth 10 also " +
        "reads the root directory; depth 20 writes, syncs and reads back a status file. A probe says not running " +
        "only when nothing is mounted; mounted but dead is an error. Where glusterd servers answer, bricks that " +
        "are down while the mount still works make the monitor return OCF_DEGRADED.\n\n" +
        "start clears a stale mount left by a dead FUSE client, mounts within the timeout (killing a mount that " +
        "hangs) and checks that the mount answers. stop unmounts; if busy, it signals only the processes using " +
        "this mount, then detaches it lazily; a dead mount is detached without touching anyone. stop succeeds only " +
        "when the mount is gone from the mount table.";

    public override IReadOnlyList<Parameter> Parameters =>
        [Device, Directory, Options, BackupVolfileServers, HealthServers, HealthInterval, ForceUnmount, FastStop, StatusFilePrefix];

    public override IReadOnlyList<OcfAction> Actions =>
    [
        new("start", TimeSpan.FromSeconds(60), ctx => new Mount(ctx).Start()),
        new("stop", TimeSpan.FromSeconds(60), ctx => new Mount(ctx).Stop()),
        new("monitor", TimeSpan.FromSeconds(20), ctx => new Mount(ctx).Monitor()) { Interval = TimeSpan.FromSeconds(20), Depth = 0 },
    ];

    public override OcfResult ValidateHost(OcfContext ctx) => new Mount(ctx).ValidateHost();
}

/// <summary>server:/volume[/subdirectory].</summary>
internal readonly record struct GlusterDevice(string Server, string Volume)
{
    public static bool TryParse(string text, out GlusterDevice device)
    {
        device = default;
        int sep = text.StartsWith('[') ? text.IndexOf("]:/", StringComparison.Ordinal) + 1 : text.IndexOf(":/", StringComparison.Ordinal);
        if (sep <= 0) return false;
        var server = text[..sep];
        var path = text[(sep + 2)..];
        var volume = path.Split('/')[0];
        if (!IsHost(server) || volume.Length == 0 || !volume.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) return false;
        if (path.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))) return false;
        device = new GlusterDevice(server, volume);
        return true;
    }

    public static bool IsHost(string host) =>
        host.Length is > 0 and < 256 &&
        (host.StartsWith('[') && host.EndsWith(']')
            ? host[1..^1].All(c => char.IsAsciiHexDigit(c) || c == ':')
            : host.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.') && host[0] != '-');

    public static IEnumerable<string> Servers(string list) =>
        list.Split([':', ' ', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>mount -o options: comma-separated key or key=value words.</summary>
internal static class MountOptions
{
    public static string? Check(string options)
    {
        foreach (var option in options.Split(','))
        {
            if (option.Length == 0) return "has an empty option";
            if (option.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '"' or '\'' or '\\'))
                return "must not contain white space, quotes or backslashes";
        }
        return null;
    }
}
