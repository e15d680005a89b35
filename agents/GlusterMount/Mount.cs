using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;
using static KvmOcf.GlusterMount.GlusterMountAgent;

namespace KvmOcf.GlusterMount;

/// <summary>One GlusterMount resource in one action. Everything that touches the mount point (or
/// any path that may lie on network storage) runs in a child process bounded by the deadline;
/// in-process it reads only /proc.</summary>
internal sealed partial class Mount
{
    private const string FuseSuperMagic = "65735546";
    private const string FsType = "fuse.glusterfs";

    private readonly OcfContext ctx;
    /// <summary>The mount point, canonical: the only spelling compared with the mount table.</summary>
    private readonly string Dir;
    private readonly GlusterDevice Volume;

    public Mount(OcfContext context)
    {
        ctx = context;
        Dir = MountPath.Canonical(ctx.Get(GlusterMountAgent.Directory));
        Volume = GlusterDevice.TryParse(ctx.Get(Device), out var d) ? d : throw new InvalidOperationException("device was validated");
    }

    private IEnumerable<string> BackupServers => GlusterDevice.Servers(ctx.Get(BackupVolfileServers));

    // ---- what is mounted, and does it answer --------------------------------------------------

    private enum State { NotMounted, Alive, Dead, Foreign }

    private readonly record struct Status(State State, string Why, MountEntry? Entry = null);

    private Status Check(TimeSpan? atMost = null)
    {
        var entry = MountTable.At(MountTable.Read(), Dir);
        if (entry is null) return new Status(State.NotMounted, $"{Dir} is not mounted");
        if (!IsOurs(entry))
            return new Status(State.Foreign, $"{Dir} is a mount of {entry.Source} ({entry.FsType}), not of {ctx.Get(Device)}", entry);
        return Answers(atMost) is { } problem ? new Status(State.Dead, problem, entry) : new Status(State.Alive, $"{Dir} answers", entry);
    }

    /// <summary>A mount of this volume (and subdirectory); the mount table names the server the
    /// client was given, and any server of ours will do.</summary>
    private bool IsOurs(MountEntry entry) =>
        entry.FsType == FsType && GlusterDevice.TryParse(entry.Source, out var mounted) && mounted.SameMount(Volume);

    /// <summary>A statfs of the mount point, in a child process bounded by the deadline: null when
    /// the mount answers, else why not. Not in a thread of ours: a FUSE request already read by the
    /// client daemon waits uninterruptibly for its answer (until gluster's ping-timeout), and a
    /// process cannot exit while one of its threads waits so — a child left waiting does not hold
    /// the agent back.</summary>
    private string? Answers(TimeSpan? atMost)
    {
        var result = ctx.TryRun(new Command("stat").WithArguments("--file-system", "--format=%t", "--", Dir), atMost);
        if (result is null) return $"{Dir} does not answer within {TimeParameter.FormatDuration(ctx.Timeout)} (bricks hung or unreachable?)";
        if (!result.Succeeded)
            return !result.StandardError.Contains("Transport endpoint is not connected") ? $"{Dir} does not answer: {result.Complaint}"
                : GlusterProcesses.Clients(Dir).Count == 0 ? $"{Dir} is dead: Transport endpoint is not connected (its FUSE client is gone)"
                : $"{Dir} is dead: Transport endpoint is not connected (no brick reachable)";
        var type = result.StandardOutput.Trim();
        return type == FuseSuperMagic ? null : $"{Dir} is not a FUSE mount (type 0x{type})";
    }

    /// <summary>Nothing is mounted at the directory as spelled. The mount table shows resolved
    /// paths, so a directory reached through a symlink would be listed under the link's target (a
    /// mount made before start refused such directories): "not mounted" only when nothing is
    /// mounted there either.</summary>
    private OcfResult NotMountedHere(OcfResult notMounted)
    {
        var resolved = Resolve();
        if (resolved is null) return OcfResult.Generic($"cannot tell whether {Dir} is mounted: resolving it failed or took too long");
        if (resolved == Dir || MountTable.At(MountTable.Read(), resolved) is not { } there) return notMounted;
        return OcfResult.Generic($"{Dir} leads to {resolved} (a symlink), where {there.Source} is mounted");
    }

    /// <summary>The directory with every symlink on its way resolved (realpath -m, in a child: the
    /// path may run through network storage), or null.</summary>
    private string? Resolve()
    {
        var result = ctx.TryRun(new Command("realpath").WithArguments("-m", "--", Dir), TimeSpan.FromSeconds(5));
        return result is { Succeeded: true } ? MountPath.Canonical(result.StandardOutput.TrimEnd('\n')) : null;
    }

    // ---- actions --------------------------------------------------------------------------------

    public OcfResult Monitor()
    {
        var status = Check();
        switch (status.State)
        {
            case State.NotMounted: return NotMountedHere(new OcfResult(OcfExitCode.NotRunning, status.Why));
            case State.Dead or State.Foreign: return OcfResult.Generic(status.Why);
        }
        // depth 20 writes into the root, which proves more than depth 10's listing of it
        if (ctx.CheckLevel is >= 10 and < 20 && ReadProblem() is { } unreadable) return OcfResult.Generic(unreadable);
        if (ctx.CheckLevel >= 20 && WriteProblem() is { } unwritable) return OcfResult.Generic(unwritable);
        if (!ctx.IsProbe && Degradation() is { } degraded) return new OcfResult(OcfExitCode.Degraded, degraded);
        return OcfResult.Success;
    }

    /// <summary>What must hold on this node: the tools, FUSE, and a directory that is safe to mount
    /// on — not a brick's (a volume mounted over its own brick deadlocks the node), not reached
    /// through a symlink.</summary>
    public OcfResult ValidateHost()
    {
        // mount(8) looks for its helpers in /sbin, whatever PATH says
        if (Command.Find("mount.glusterfs", "/sbin:/usr/sbin") is null)
            return OcfResult.Installed("mount.glusterfs is not installed (glusterfs-client)");
        if (!File.Exists("/dev/fuse") || !FuseListed())
            return OcfResult.Installed("FUSE is not available (/dev/fuse, fuse in /proc/filesystems)");
        foreach (var (pid, brick) in GlusterProcesses.Bricks())
            if (MountPath.Overlap(Dir, brick))
                return OcfResult.Configured($"directory {Dir} {(MountPath.IsUnder(brick, Dir) ? "holds" : "is inside")} the brick {brick} (glusterfsd {pid})");
        if (MountTable.At(MountTable.Read(), Dir) is null)
        {
            var resolved = Resolve();
            if (resolved is null) return OcfResult.Generic($"cannot resolve {Dir} (realpath failed or took too long)");
            if (resolved != Dir) return OcfResult.Configured($"directory {Dir} leads to {resolved} through a symlink; set directory={resolved}");
        }
        return OcfResult.Success;
    }

    private static bool FuseListed() => File.ReadAllText("/proc/filesystems").Contains("\tfuse\n");

    /// <summary>fuse is often a module: load it if the kernel does not list it yet, as Filesystem
    /// does (bounded; a missing modprobe is not an error here, the FUSE check says what is wrong).</summary>
    private void LoadFuse()
    {
        if (FuseListed()) return;
        try
        {
            var result = ctx.TryRun(new Command("modprobe").WithArguments("fuse"), TimeSpan.FromSeconds(10));
            ctx.Log.LogInformation("modprobe fuse: {Result}", result is null ? "did not finish in time" : result.Succeeded ? "loaded" : result.Summary);
        }
        catch (CommandNotFoundException e) { ctx.Log.LogInformation("cannot load fuse: {Why}", e.Reason); }
    }

    public OcfResult Start()
    {
        LoadFuse();
        if (ValidateHost() is { IsSuccess: false } invalid) return invalid;
        var status = Check(Half());
        switch (status.State)
        {
            case State.Alive:
                ctx.Log.LogInformation("{Dir} is already mounted", Dir);
                return OcfResult.Success;
            case State.Foreign:
                return OcfResult.Args(status.Why);
            case State.Dead:
                ctx.Log.LogWarning("clearing a dead mount: {Why}", status.Why);
                if (ClearDeadClient() is { } stuck) return OcfResult.Generic($"cannot clear the dead mount: {stuck}");
                break;
        }

        var mkdir = ctx.TryRun(new Command("mkdir").WithArguments("-p", "--", Dir), Half());
        if (mkdir is not { Succeeded: true }) return OcfResult.Generic($"cannot create {Dir}: {(mkdir is null ? "mkdir did not finish in time" : mkdir.Complaint)}");

        var options = string.Join(',', new[]
        {
            ctx.Get(Options),
            BackupServers.Any() ? "backup-volfile-servers=" + string.Join(':', BackupServers) : "",
        }.Where(o => o.Length > 0));
        var mount = new Command("mount").WithArguments(["-t", "glusterfs", .. (options.Length > 0 ? new[] { "-o", options } : []), "--", ctx.Get(Device), Dir]);
        // what is left after the mount is for checking it, or for clearing what a hung mount left behind
        var result = ctx.TryRun(mount, ctx.Deadline.Remaining - TimeSpan.FromSeconds(Math.Min(5, ctx.Timeout.TotalSeconds / 4)));
        if (result is not { Succeeded: true })
        {
            // gluster's mount hangs while the volume is unreachable (glusterfs#971): kill it and leave nothing behind
            ClearDeadClient();
            return OcfResult.Generic(result is null ? $"mounting {ctx.Get(Device)} did not finish in time (volume unreachable?)"
                : $"mounting {ctx.Get(Device)} failed: {result.Summary}");
        }

        var verify = Check();
        if (verify.State == State.Alive)
        {
            ctx.Log.LogInformation("mounted {Device} at {Dir}", ctx.Get(Device), Dir);
            return OcfResult.Success;
        }
        ClearDeadClient();
        return OcfResult.Generic($"the new mount does not work: {verify.Why}");
    }

    private TimeSpan Half() => ctx.Deadline.Remaining / 2;

    // ---- deeper checks ------------------------------------------------------------------------

    /// <summary>Depth 10: list the mount's root (a child process, bounded, as for statfs).</summary>
    private string? ReadProblem()
    {
        var result = ctx.TryRun(new Command("ls").WithArguments("-f", "--", Dir).WithMaxOutputBytes(64 << 10));
        return result is null ? $"reading {Dir} did not finish in time"
            : result.Succeeded ? null : $"reading {Dir} failed: {result.Complaint}";
    }

    /// <summary>Depth 20: write, fsync and read back this node's status file (child processes, bounded).</summary>
    private string? WriteProblem()
    {
        var node = ctx.Meta.OnNode ?? Environment.MachineName;
        var path = Path.Combine(Dir, ctx.Get(StatusFilePrefix) + $"{ctx.Instance}_{node}");
        var content = $"{ctx.Instance} {node} {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}\n";
        var late = $"writing {path} did not finish in time";
        var dd = new Command("dd").WithArguments($"of={path}", "conv=fsync", "status=none").WithStandardInput(content);
        var write = ctx.TryRun(dd);
        if (write is null) return late;
        if (!write.Succeeded && write.StandardError.Contains("No such file or directory"))
        {
            var dir = Path.GetDirectoryName(path)!;   // the first time on this volume
            var mkdir = ctx.TryRun(new Command("mkdir").WithArguments("-p", "--", dir));
            if (mkdir is null) return late;
            if (!mkdir.Succeeded) return $"creating {dir} failed: {mkdir.Complaint}";
            write = ctx.TryRun(dd);
            if (write is null) return late;
        }
        if (!write.Succeeded) return $"writing {path} failed: {write.Summary}";
        var read = ctx.TryRun(new Command("cat").WithArguments("--", path));
        return read is null ? late
            : !read.Succeeded ? $"reading {path} back failed: {read.Complaint}"
            : read.StandardOutput == content ? null : $"{path} read back differently";
    }

    /// <summary>Bricks down while the mount works: the reason for OCF_DEGRADED, or null. Asked at
    /// most every health_interval, with at most half of what is left of the monitor's time; the
    /// answer is kept in the resource's state in between. No answer in time is "health unknown",
    /// which says nothing against a mount that works.</summary>
    private string? Degradation()
    {
        var interval = ctx.Get(HealthInterval);
        if (interval == TimeSpan.Zero) return null;
        var state = ResourceState.For(ctx);
        if (long.TryParse(state["health.checked"], out var checkedAt) &&
            DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeSeconds(checkedAt) < interval)
            return state["health.down"] is { Length: > 0 } cached ? cached : null;

        var servers = ctx.IsSet(HealthServers) ? GlusterDevice.Servers(ctx.Get(HealthServers)) : BackupServers.Prepend(Volume.Server);
        List<Brick>? bricks;
        try { bricks = VolumeHealth.Query(ctx, servers, Volume.Volume, Half()); }
        catch (CommandNotFoundException) { ctx.Log.LogDebug("no gluster CLI here: volume health not checked"); return null; }
        var down = bricks?.Where(b => !b.Online).ToList() ?? [];
        var reason = down.Count == 0 ? "" : $"{down.Count} of {bricks!.Count} bricks of {Volume.Volume} down: {string.Join(", ", down)}";
        if (bricks is null) ctx.Log.LogWarning("no glusterd answered in time about volume {Volume}; health unknown", Volume.Volume);
        state.Update(("health.checked", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString()), ("health.down", reason));
        return reason.Length > 0 ? reason : null;
    }
}
