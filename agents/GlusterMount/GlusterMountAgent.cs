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
        Check = d => GlusterDevice.TryParse(d, out _) ? null
            : d.Contains(":-", StringComparison.Ordinal) || d.Contains(":/-", StringComparison.Ordinal) ? "names a volume beginning with '-'"
            : "is not server:/volume",
    };

    public static readonly StringParameter Directory = new("directory")
    {
        Required = true,
        UniqueGroup = "directory",
        ShortDescription = "Mount point",
        LongDescription = "The absolute path of the mount point, created if missing. Spelled as the mount table shows " +
            "it: '//', '.' and a trailing '/' are ignored; '..' is refused, and so is a path through a symbolic link " +
            "(at start and validate-all: mount(8) would mount at the link's target). Never / or a directory that holds " +
            "the system's, the cluster's or glusterd's own files (/usr, /etc, /var, /run, HA_RSCTMP, OCF_ROOT, " +
            "/var/lib/glusterd, …), nor one that holds or lies inside a brick served on this node.",
        Check = d => MountPath.Canonical(d, out var problem) is null ? problem : null,
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
        ShortDescription = "Kill processes that use the mount at stop",
        LongDescription = "When processes use the volume through this mount at stop (in any mount namespace: an open " +
            "file, a working directory, root, executable or mapping on its filesystem — found through /proc by device " +
            "number, never fuser -m): true (or safe, its synonym here) sends them TERM, then KILL; false fails the " +
            "stop instead. A user that cannot be ended (init, a kernel thread, one that survives KILL or may not be " +
            "signalled) fails the stop too.",
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
        "hangs) and checks that the mount answers. stop signals the processes that use the volume through this " +
        "mount (in any mount namespace) and unmounts; a dead mount is detached without signalling anyone. stop " +
        "succeeds only when the mount is gone and nothing uses it any more; it fails, naming it, on a user that " +
        "cannot be ended or a mount of someone else's below the directory (which it never detaches).";

    public override IReadOnlyList<Parameter> Parameters =>
        [Device, Directory, Options, BackupVolfileServers, HealthServers, HealthInterval, ForceUnmount, FastStop, StatusFilePrefix];

    public override IReadOnlyList<OcfAction> Actions =>
    [
        new("start", TimeSpan.FromSeconds(60), ctx => new Mount(ctx).Start()),
        new("stop", TimeSpan.FromSeconds(60), ctx => new Mount(ctx).Stop()),
        new("monitor", TimeSpan.FromSeconds(20), ctx => new Mount(ctx).Monitor()) { Interval = TimeSpan.FromSeconds(20), Depth = 0 },
    ];

    /// <summary>What a mount must never cover: the system, the cluster stack's own state and
    /// glusterd's (a volume mounted over the directory its bricks or glusterd live in deadlocks the
    /// node). <c>/tmp</c>: mount.glusterfs refuses it too.</summary>
    public static readonly IReadOnlyList<string> NeverCovered =
        ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys", "/tmp", "/usr", "/var",
         "/var/lib/glusterd", "/var/log/glusterfs"];

    /// <summary>A directory the mount must never cover is wrong on every node: start refuses it (and
    /// the other actions say so in the log, then look at what is really mounted there).</summary>
    public override OcfResult ValidateConfiguration(OcfContext ctx)
    {
        var dir = MountPath.Canonical(ctx.Get(Directory));
        var env = ctx.Environment;
        return MountPath.Covers(dir, [.. NeverCovered, env.StateDirectory, env.OcfRoot]) is { } covered
            ? OcfResult.Configured($"parameter 'directory': {OneLine.Quote(ctx.Get(Directory))} would cover {covered}")
            : OcfResult.Success;
    }

    public override OcfResult ValidateHost(OcfContext ctx) => new Mount(ctx).ValidateHost();

}

/// <summary>server:/volume[/subdirectory] (the slash after the colon may be missing, as mount.glusterfs
/// allows), the subdirectory canonical: two spellings of one mount compare equal.</summary>
internal readonly record struct GlusterDevice(string Server, string Volume, string Subdirectory)
{
    public static bool TryParse(string text, out GlusterDevice device)
    {
        device = default;
        int sep = text.StartsWith('[') ? text.IndexOf("]:", StringComparison.Ordinal) + 1 : text.IndexOf(':');
        if (sep <= 0) return false;
        var server = text[..sep];
        var path = text[(sep + 1)..].Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (!IsHost(server) || path.Length == 0 || !IsVolume(path[0])) return false;
        var subdirectory = path[1..].Where(p => p != ".").ToList();
        if (subdirectory.Contains("..") || subdirectory.Any(p => p.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))) return false;
        device = new GlusterDevice(server, path[0], string.Join('/', subdirectory));
        return true;
    }

    /// <summary>Letters, digits, '-', '_' and '.', not beginning with '-' or '.': a name beginning with
    /// '-' would reach the gluster CLI (which knows no "--") as an option.</summary>
    public static bool IsVolume(string name) =>
        name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && name[0] is not ('-' or '.');

    public static bool IsHost(string host) =>
        host.Length is > 0 and < 256 &&
        (host.StartsWith('[') && host.EndsWith(']')
            ? host[1..^1].All(c => char.IsAsciiHexDigit(c) || c == ':')
            : host.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.') && host[0] != '-');

    /// <summary>The same volume and subdirectory, from whichever server.</summary>
    public bool SameMount(GlusterDevice other) => Volume == other.Volume && Subdirectory == other.Subdirectory;

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
