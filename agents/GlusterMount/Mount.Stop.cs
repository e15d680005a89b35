using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;
using static KvmOcf.GlusterMount.GlusterMountAgent;

namespace KvmOcf.GlusterMount;

/// <summary>stop: success only when the mount is gone and no process uses the volume through it
/// any more — in any mount namespace. Anything else fails the stop (pacemaker then fences),
/// naming what is left: a stop that says "stopped" while qemu still writes to the volume lets the
/// cluster start the guest a second time elsewhere.</summary>
internal sealed partial class Mount
{
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(2);

    public OcfResult Stop()
    {
        var status = Check(TimeSpan.FromSeconds(Math.Min(10, ctx.Timeout.TotalSeconds / 4)));
        switch (status.State)
        {
            case State.NotMounted:
                return NotMountedHere(OcfResult.Success);
            case State.Foreign:
                return OcfResult.Generic($"cannot stop: {status.Why}");
            case State.Dead:
                // Its users' I/O cannot reach the volume any more: detach it without signalling them.
                ctx.Log.LogWarning("detaching a dead mount: {Why}", status.Why);
                return ClearDeadClient() is { } stuck ? OcfResult.Generic($"cannot stop the dead mount: {stuck}") : OcfResult.Success;
        }

        var device = status.Entry!.Device;
        if (NestedMounts(status.Entry) is { } nested) return OcfResult.Generic($"cannot stop: {nested}");
        if (EndUsers(device) is { } inUse) return OcfResult.Generic(inUse);
        if (!Unmount())
        {
            // busy, though no process uses it (a kernel reference, or a user that came and went):
            // detached now, the mount goes when that lets go
            ctx.Log.LogWarning("{Dir} is busy though no process uses it; detaching it lazily", Dir);
            if (DetachLazily() is { } refused) return OcfResult.Generic($"cannot stop: {refused}");
        }
        if (MountTable.At(MountTable.Read(), Dir) is { FsType: FsType }) return OcfResult.Generic($"{Dir} is still mounted after stop");
        var left = FindUsers(device);
        return left.Count == 0 ? OcfResult.Success : OcfResult.Generic($"{Dir} is unmounted, but {Describe(left)} still uses the volume");
    }

    /// <summary>Mounts on top of this one (someone else's: a lazy detach would take them along), or null.</summary>
    private string? NestedMounts(MountEntry entry) =>
        MountTable.Below(MountTable.Read(), entry) is [var first, ..] below
            ? $"{first.MountPoint} ({first.FsType}){(below.Count > 1 ? $" and {below.Count - 1} more" : "")} is mounted below {Dir}; not ours to detach"
            : null;

    /// <summary>Ends every process that uses the filesystem: TERM (unless fast_stop), then KILL.
    /// Null when none is left, else why the stop must fail. Nobody is signalled when one of them
    /// cannot be ended anyway (init, a kernel thread), or when force_unmount is false.</summary>
    private string? EndUsers(DeviceNumber device)
    {
        var users = FindUsers(device);
        if (users.Count == 0) return null;
        if (ctx.Get(ForceUnmount) == "false") return $"{Dir} is in use by {Describe(users)} and force_unmount is false";
        if (users.FirstOrDefault(u => !u.CanBeEnded) is { } unkillable) return $"{Dir} is in use by {unkillable}, which cannot be ended";

        var kill = (Posix.SIGKILL, ctx.Deadline.Reserve(KillWait));
        (int Signal, Deadline Until)[] rounds = ctx.Get(FastStop) ? [kill] : [(Posix.SIGTERM, ctx.Deadline.Reserve(ctx.Deadline.Remaining / 2)), kill];
        foreach (var (signal, until) in rounds)
        {
            var signalled = new List<Pidfd>();
            try
            {
                foreach (var user in users)
                {
                    ctx.Log.LogWarning("sending {Signal} to {User}, which uses {Dir}", signal == Posix.SIGTERM ? "TERM" : "KILL", user, Dir);
                    if (Signal(user.Pid, signal, () => Holders.Use(user.Pid, device) is not null, out var refused) is { } pidfd) signalled.Add(pidfd);
                    else if (refused) return $"{Dir} is in use by {user}, which may not be signalled";
                }
                foreach (var pidfd in signalled) pidfd.WaitForExit(until);
            }
            finally { signalled.ForEach(p => p.Dispose()); }
            users = FindUsers(device);
            if (users.Count == 0) return null;
        }
        return $"{Dir} is still in use after KILL by {Describe(users)}";
    }

    private List<Holder> FindUsers(DeviceNumber device) =>
        ctx.Deadline.Run("finding the processes that use the mount", () => Holders.Find(device));

    private static string Describe(List<Holder> users) =>
        users.Count == 1 ? users[0].ToString() : $"{users[0]} and {users.Count - 1} more";

    /// <summary>Signals <paramref name="pid"/> through a pidfd, after checking (with the pidfd open,
    /// so the PID cannot change hands meanwhile) that it still is the process meant. The pidfd to
    /// wait on; null when the process is gone or no longer the one meant, or — <paramref name="refused"/>
    /// — may not be signalled (EPERM).</summary>
    private static Pidfd? Signal(int pid, int signal, Func<bool> stillMeant, out bool refused)
    {
        refused = false;
        var pidfd = Pidfd.Open(pid, out _);
        if (pidfd is null) return null;
        int errno = 0;
        if (stillMeant() && pidfd.Signal(signal, out errno)) return pidfd;
        refused = errno is not (0 or Posix.ESRCH);
        pidfd.Dispose();
        return null;
    }

    /// <summary>umount, bounded; true when the mount is gone from the table. No canonicalisation
    /// (-c): Dir is canonical, and umount(8) would otherwise stat the mount point — a FUSE request.</summary>
    private bool Unmount()
    {
        var result = ctx.TryRun(new Command("umount").WithArguments("-c", "--", Dir), TimeSpan.FromSeconds(Math.Max(2, ctx.Deadline.Remaining.TotalSeconds / 4)));
        if (result is null) ctx.Log.LogWarning("umount {Dir} did not finish in time", Dir);
        else if (!result.Succeeded) ctx.Log.LogInformation("umount {Dir}: {Why}", Dir, result.Summary);
        return MountTable.At(MountTable.Read(), Dir) is not { FsType: FsType };
    }

    /// <summary>umount -l: the mount leaves the table now, the kernel finishes when the last user
    /// lets go. Never with mounts of someone else's below it, which it would detach too. Null when
    /// done, else why not.</summary>
    private string? DetachLazily()
    {
        if (MountTable.At(MountTable.Read(), Dir) is not { FsType: FsType } entry) return null;
        if (NestedMounts(entry) is { } nested) return nested;
        var result = ctx.TryRun(new Command("umount").WithArguments("-c", "-l", "--", Dir), TimeSpan.FromSeconds(5));
        return MountTable.At(MountTable.Read(), Dir) is not { FsType: FsType } ? null
            : $"umount -l {Dir} {(result is null ? "did not finish in time" : $"failed: {result.Summary}")}";
    }

    /// <summary>A FUSE client that died or hangs: kill what is left of it for this mount point and
    /// detach the mount lazily. Its users are not signalled: with the client gone, the kernel
    /// aborts the connection and their I/O fails — it cannot reach the volume any more. Null when
    /// done, else why not (a client that survives KILL still serves them).</summary>
    private string? ClearDeadClient()
    {
        if (MountTable.At(MountTable.Read(), Dir) is { FsType: FsType } entry && NestedMounts(entry) is { } nested) return nested;
        var killed = new List<Pidfd>();
        try
        {
            foreach (var pid in GlusterProcesses.Clients(Dir))
            {
                ctx.Log.LogInformation("killing the FUSE client {Pid} of {Dir}", pid, Dir);
                if (Signal(pid, Posix.SIGKILL, () => GlusterProcesses.IsClient(pid, Dir), out _) is { } pidfd) killed.Add(pidfd);
            }
            var until = ctx.Deadline.AtMost(TimeSpan.FromSeconds(5));
            if (killed.FirstOrDefault(p => !p.WaitForExit(until)) is { } survivor) return $"its FUSE client {survivor.Pid} survives KILL";
        }
        finally { killed.ForEach(p => p.Dispose()); }
        return DetachLazily();
    }
}
