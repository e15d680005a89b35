using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;
using static KvmOcf.GlusterMount.GlusterMountAgent;

namespace KvmOcf.GlusterMount;

/// <summary>One GlusterMount resource in one action.</summary>
internal sealed class Mount(OcfContext ctx)
{
    private const string FuseSuperMagic = "65735546";
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    private string Dir => ctx.Get(GlusterMountAgent.Directory).TrimEnd('/');
    private GlusterDevice Volume => GlusterDevice.TryParse(ctx.Get(Device), out var d) ? d : throw new InvalidOperationException("device was validated");
    private IEnumerable<string> BackupServers => GlusterDevice.Servers(ctx.Get(BackupVolfileServers));

    // ---- what is mounted, and does it answer --------------------------------------------------

    private enum State { NotMounted, Alive, Dead, Foreign }

    private readonly record struct Status(State State, string Why, MountEntry? Entry = null);

    private Status Check(Deadline deadline)
    {
        var entry = MountTable.At(MountTable.Read(), Dir);
        if (entry is null) return new Status(State.NotMounted, $"{Dir} is not mounted");
        if (entry.FsType != "fuse.glusterfs" || !SameVolume(entry.Source))
            return new Status(State.Foreign, $"{Dir} is a mount of {entry.Source} ({entry.FsType}), not of {ctx.Get(Device)}", entry);
        return Answers(deadline) is { } problem ? new Status(State.Dead, problem, entry) : new Status(State.Alive, $"{Dir} answers", entry);
    }

    /// <summary>The mount table names the server the client was given; any server of ours will do.</summary>
    private bool SameVolume(string source) =>
        GlusterDevice.TryParse(source, out var mounted) && mounted.Volume == Volume.Volume;

    /// <summary>A statfs of the mount point, in a child process bounded by the deadline: null when
    /// the mount answers, else why not. Not in a thread of ours: a FUSE request already read by the
    /// client daemon waits uninterruptibly for its answer (until gluster's ping-timeout), and a
    /// process cannot exit while one of its threads waits so — a child left waiting does not hold
    /// the agent back.</summary>
    private string? Answers(Deadline deadline)
    {
        try
        {
            var result = new Command("stat").WithArguments("--file-system", "--format=%t", "--", Dir).Run(deadline, ctx.Log);
            if (!result.Succeeded)
                return !result.StandardError.Contains("Transport endpoint is not connected") ? $"{Dir} does not answer: {Tail(result.Summary)}"
                    : ClientProcesses().Count == 0 ? $"{Dir} is dead: Transport endpoint is not connected (its FUSE client is gone)"
                    : $"{Dir} is dead: Transport endpoint is not connected (no brick reachable)";
            var type = result.StandardOutput.Trim();
            return type == FuseSuperMagic ? null : $"{Dir} is not a FUSE mount (type 0x{type})";
        }
        catch (CommandTimeoutException) { return $"{Dir} does not answer within {TimeParameter.FormatDuration(ctx.Timeout)} (bricks hung or unreachable?)"; }
    }

    /// <summary>The part of a coreutils message after the file name ("…': Permission denied").</summary>
    private static string Tail(string message) => message.LastIndexOf("': ", StringComparison.Ordinal) is var i and > 0 ? message[(i + 3)..] : message;

    // ---- actions --------------------------------------------------------------------------------

    public OcfResult Monitor()
    {
        var status = Check(ctx.Deadline);
        switch (status.State)
        {
            case State.NotMounted: return new OcfResult(OcfExitCode.NotRunning, status.Why);
            case State.Dead or State.Foreign: return OcfResult.Generic(status.Why);
        }
        // depth 20 writes into the root, which proves more than depth 10's listing of it
        if (ctx.CheckLevel is >= 10 and < 20 && ReadProblem() is { } unreadable) return OcfResult.Generic(unreadable);
        if (ctx.CheckLevel >= 20 && WriteProblem() is { } unwritable) return OcfResult.Generic(unwritable);
        if (!ctx.IsProbe && Degradation() is { } degraded) return new OcfResult(OcfExitCode.Degraded, degraded);
        return OcfResult.Success;
    }

    public OcfResult ValidateHost()
    {
        // mount(8) looks for its helpers in /sbin, whatever PATH says
        if (Command.Find("mount.glusterfs", "/sbin:/usr/sbin") is null)
            return OcfResult.Installed("mount.glusterfs is not installed (glusterfs-client)");
        if (!File.Exists("/dev/fuse") || !File.ReadAllText("/proc/filesystems").Contains("\tfuse\n"))
            return OcfResult.Installed("FUSE is not available (/dev/fuse, fuse in /proc/filesystems)");
        return OcfResult.Success;
    }

    public OcfResult Start()
    {
        if (ValidateHost() is { IsSuccess: false } invalid) return invalid;
        var status = Check(ctx.Deadline.AtMost(Half()));
        switch (status.State)
        {
            case State.Alive:
                ctx.Log.LogInformation("{Dir} is already mounted", Dir);
                return OcfResult.Success;
            case State.Foreign:
                return OcfResult.Args(status.Why);
            case State.Dead:
                ctx.Log.LogWarning("clearing a dead mount: {Why}", status.Why);
                ClearDeadClient();
                if (MountTable.At(MountTable.Read(), Dir) is not null) return OcfResult.Generic($"cannot clear the dead mount at {Dir}");
                break;
        }

        System.IO.Directory.CreateDirectory(Dir);
        var options = string.Join(',', new[]
        {
            ctx.Get(Options),
            BackupServers.Any() ? "backup-volfile-servers=" + string.Join(':', BackupServers) : "",
        }.Where(o => o.Length > 0));
        var mount = new Command("mount").WithArguments(["-t", "glusterfs", .. (options.Length > 0 ? new[] { "-o", options } : []), ctx.Get(Device), Dir]);
        var mountDeadline = ctx.Deadline.Reserve(TimeSpan.FromSeconds(Math.Min(5, ctx.Timeout.TotalSeconds / 4)));
        try
        {
            var result = mount.Run(mountDeadline, ctx.Log);
            if (!result.Succeeded)
            {
                ClearDeadClient();
                return OcfResult.Generic($"mounting {ctx.Get(Device)} failed: {result.Summary}");
            }
        }
        catch (CommandTimeoutException)
        {
            // gluster's mount hangs while the volume is unreachable (glusterfs#971): kill it and leave nothing behind
            ClearDeadClient();
            return OcfResult.Generic($"mounting {ctx.Get(Device)} did not finish in time (volume unreachable?)");
        }

        var verify = Check(ctx.Deadline);
        if (verify.State == State.Alive)
        {
            ctx.Log.LogInformation("mounted {Device} at {Dir}", ctx.Get(Device), Dir);
            return OcfResult.Success;
        }
        ClearDeadClient();
        return OcfResult.Generic($"the new mount does not work: {verify.Why}");
    }

    public OcfResult Stop()
    {
        var status = Check(ctx.Deadline.AtMost(TimeSpan.FromSeconds(Math.Min(10, ctx.Timeout.TotalSeconds / 4))));
        switch (status.State)
        {
            case State.NotMounted:
                return OcfResult.Success;
            case State.Foreign:
                return OcfResult.Generic($"cannot stop: {status.Why}");
            case State.Dead:
                // Its users' data paths are dead anyway: detach it without signalling anyone.
                ctx.Log.LogWarning("detaching a dead mount: {Why}", status.Why);
                ClearDeadClient();
                return Gone();
        }

        if (Unmount(lazy: false)) return Gone();
        if (ctx.Get(ForceUnmount) == "false") return OcfResult.Generic($"{Dir} is busy and force_unmount is false");

        var graceful = ctx.Get(FastStop) ? ctx.Deadline.Reserve(ctx.Deadline.Remaining) : ctx.Deadline.Reserve(ctx.Deadline.Remaining / 2);
        foreach (var (signal, until) in new[] { (Unix.SIGTERM, graceful), (Unix.SIGKILL, ctx.Deadline.Reserve(TimeSpan.FromSeconds(2))) })
        {
            if (until.Expired) continue;
            var holders = FindHolders();
            if (holders.Count == 0) break;
            foreach (var (pid, what) in holders)
            {
                ctx.Log.LogWarning("sending {Signal} to process {Pid} ({Command}), which uses {Dir}: {What}",
                    signal == Unix.SIGTERM ? "TERM" : "KILL", pid, ProcessTable.Comm(pid) ?? "?", Dir, what);
                Unix.Signal(pid, signal, out _);
            }
            until.WaitUntil(() => FindHolders().Count == 0, Poll);
            if (Unmount(lazy: false)) return Gone();
        }
        // the last resort: detach now, let the kernel finish when the last user lets go
        ctx.Log.LogWarning("{Dir} still busy; detaching it lazily", Dir);
        Unmount(lazy: true);
        return Gone();
    }

    private OcfResult Gone() =>
        MountTable.At(MountTable.Read(), Dir) is { } still && still.FsType == "fuse.glusterfs"
            ? OcfResult.Generic($"{Dir} is still mounted after stop")
            : OcfResult.Success;

    /// <summary>umount (or umount -l), bounded; true when the mount is gone from the table.</summary>
    private bool Unmount(bool lazy)
    {
        try
        {
            var result = new Command("umount").WithArguments(lazy ? ["-l", Dir] : [Dir])
                .Run(ctx.Deadline.AtMost(TimeSpan.FromSeconds(Math.Max(2, ctx.Deadline.Remaining.TotalSeconds / 4))), ctx.Log);
            if (!result.Succeeded) ctx.Log.LogInformation("umount {Dir}: {Why}", Dir, result.Summary);
        }
        catch (CommandTimeoutException) { ctx.Log.LogWarning("umount {Dir} did not finish in time", Dir); }
        return MountTable.At(MountTable.Read(), Dir) is not { FsType: "fuse.glusterfs" };
    }

    /// <summary>A FUSE client that died or hangs: kill what is left of it for this mount point and
    /// detach the mount lazily (its users are not signalled: their I/O fails, it does not move).</summary>
    private void ClearDeadClient()
    {
        foreach (var pid in ClientProcesses())
        {
            ctx.Log.LogInformation("killing the FUSE client {Pid} of {Dir}", pid, Dir);
            Unix.Signal(pid, Unix.SIGKILL, out _);
        }
        if (MountTable.At(MountTable.Read(), Dir) is { FsType: "fuse.glusterfs" }) Unmount(lazy: true);
    }

    /// <summary>glusterfs processes serving this mount point (its path is their last argument).</summary>
    private List<int> ClientProcesses() =>
        ProcessTable.Pids()
            .Where(pid => ProcessTable.Comm(pid) == "glusterfs" && ProcessTable.Argv(pid) is [_, .., var last] && last.TrimEnd('/') == Dir)
            .ToList();

    private List<(int Pid, string What)> FindHolders()
    {
        var table = MountTable.Read();
        if (MountTable.At(table, Dir) is not { } entry) return [];
        return ctx.Deadline.Run("finding the processes that use the mount", () => Holders.Find(entry, table));
    }

    private TimeSpan Half() => ctx.Deadline.Remaining / 2;

    // ---- deeper checks ------------------------------------------------------------------------

    /// <summary>Depth 10: list the mount's root (a child process, bounded, as for statfs).</summary>
    private string? ReadProblem()
    {
        try
        {
            var result = new Command("ls").WithArguments("-f", "--", Dir).WithMaxOutputBytes(64 << 10).Run(ctx.Deadline, ctx.Log);
            return result.Succeeded ? null : $"reading {Dir} failed: {Tail(result.Summary)}";
        }
        catch (CommandTimeoutException) { return $"reading {Dir} did not finish in time"; }
    }

    /// <summary>Depth 20: write, fsync and read back this node's status file (child processes, bounded).</summary>
    private string? WriteProblem()
    {
        var node = ctx.Meta.OnNode ?? Environment.MachineName;
        var path = Path.Combine(Dir, ctx.Get(StatusFilePrefix) + $"{ctx.Instance}_{node}");
        var content = $"{ctx.Instance} {node} {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}\n";
        try
        {
            var dd = new Command("dd").WithArguments($"of={path}", "conv=fsync", "status=none").WithStandardInput(content);
            var write = dd.Run(ctx.Deadline, ctx.Log);
            if (!write.Succeeded && write.StandardError.Contains("No such file or directory"))
            {
                var dir = Path.GetDirectoryName(path)!;   // the first time on this volume
                var mkdir = new Command("mkdir").WithArguments("-p", "--", dir).Run(ctx.Deadline, ctx.Log);
                if (!mkdir.Succeeded) return $"creating {dir} failed: {Tail(mkdir.Summary)}";
                write = dd.Run(ctx.Deadline, ctx.Log);
            }
            if (!write.Succeeded) return $"writing {path} failed: {write.Summary}";
            var read = new Command("cat").WithArguments("--", path).Run(ctx.Deadline, ctx.Log);
            return !read.Succeeded ? $"reading {path} back failed: {Tail(read.Summary)}"
                : read.StandardOutput == content ? null : $"{path} read back differently";
        }
        catch (CommandTimeoutException) { return $"writing {path} did not finish in time"; }
    }

    /// <summary>Bricks down while the mount works: the reason for OCF_DEGRADED, or null. Asked at
    /// most every health_interval; the answer is kept in the resource's state in between.</summary>
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
        try { bricks = VolumeHealth.Query(ctx, servers, Volume.Volume, ctx.Deadline); }
        catch (CommandNotFoundException) { ctx.Log.LogDebug("no gluster CLI here: volume health not checked"); return null; }
        if (bricks is null)
        {
            ctx.Log.LogWarning("no glusterd answered about volume {Volume}; health unknown", Volume.Volume);
            return null;
        }
        var down = bricks.Where(b => !b.Online).ToList();
        var reason = down.Count == 0 ? "" : $"{down.Count} of {bricks.Count} bricks of {Volume.Volume} down: {string.Join(", ", down)}";
        state.Update(("health.checked", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString()), ("health.down", reason));
        return reason.Length > 0 ? reason : null;
    }
}
