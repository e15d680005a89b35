using System.Diagnostics;
using KvmOcf.Ocf;

namespace KvmOcf.Tests;

/// <summary>Pidfd and Statx against real processes and filesystems (no root needed).</summary>
public class PidfdTests
{
    [Fact]
    public void A_signal_through_a_pidfd_reaches_the_process_and_its_exit_is_seen()
    {
        using var sleep = Process.Start("sleep", "30");
        using var pidfd = Pidfd.Open(sleep.Id, out var errno);
        Assert.NotNull(pidfd);
        Assert.Equal(0, errno);
        Assert.False(pidfd.Exited);
        Assert.True(pidfd.Signal(Posix.SIGTERM, out _));
        Assert.True(pidfd.WaitForExit(Deadline.After(TimeSpan.FromSeconds(5))));
        sleep.WaitForExit();
        Assert.False(pidfd.Signal(Posix.SIGTERM, out errno));   // gone: the PID is not signalled again
        Assert.Equal(Posix.ESRCH, errno);
    }

    [Fact]
    public void Waiting_for_a_process_that_does_not_exit_ends_at_the_deadline()
    {
        using var sleep = Process.Start("sleep", "30");
        using var pidfd = Pidfd.Open(sleep.Id, out _)!;
        var started = Stopwatch.GetTimestamp();
        Assert.False(pidfd.WaitForExit(Deadline.After(TimeSpan.FromMilliseconds(200))));
        Assert.InRange(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 150, 2000);
        sleep.Kill();
    }

    [Fact]
    public void Statx_tells_filesystems_apart_through_proc_links()
    {
        var dev = Statx.Device("/dev", out _);
        Assert.NotNull(dev);
        Assert.NotEqual(dev, Statx.Device("/proc", out _));
        Assert.Equal(Statx.Device("/proc/self/cwd", out _), Statx.Device(Environment.CurrentDirectory, out _));
        Assert.Null(Statx.Device("/nonexistent/x", out var errno));
        Assert.Equal(2, errno);
    }
}
