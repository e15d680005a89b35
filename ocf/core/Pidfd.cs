using System.Runtime.InteropServices;

namespace KvmOcf.Core;

/// <summary>A process held by a pidfd (pidfd_open(2), Linux ≥ 5.3). A PID read from /proc may
/// belong to another process by the time it is signalled (the first one exited, its PID was
/// reused); a signal sent through a pidfd reaches the process that was opened or nobody. Open it,
/// then check that the process is still the one meant (its /proc entries now describe it, or it
/// is gone and the signal fails with ESRCH), then signal.</summary>
public sealed unsafe partial class Pidfd : IDisposable
{
    private const long SYS_pidfd_send_signal = 424;
    private int _fd;

    private Pidfd(int pid, int fd) => (Pid, _fd) = (pid, fd);

    public int Pid { get; }

    /// <summary>The process <paramref name="pid"/>, or null with the errno (ESRCH: it is gone).</summary>
    public static Pidfd? Open(int pid, out int errno)
    {
        int fd = Posix.PidFdOpen(pid);
        errno = fd < 0 ? Posix.Errno : 0;
        return fd < 0 ? null : new Pidfd(pid, fd);
    }

    /// <summary>pidfd_send_signal(2); false with the errno when it failed (ESRCH: the process has
    /// exited; EPERM: not ours to signal).</summary>
    public bool Signal(int signal, out int errno)
    {
        errno = 0;
        if (SendSignal(SYS_pidfd_send_signal, _fd, signal, null, 0) == 0) return true;
        errno = Posix.Errno;
        return false;
    }

    /// <summary>Whether the process has exited (a zombie counts: it holds no files any more).</summary>
    public bool Exited => WaitForExit(0);

    /// <summary>Waits until the process exits or <paramref name="deadline"/> passes; true if it exited.</summary>
    public bool WaitForExit(Deadline deadline)
    {
        while (true)
        {
            if (WaitForExit((int)Math.Min(int.MaxValue, Math.Ceiling(deadline.Remaining.TotalMilliseconds)))) return true;
            if (deadline.Expired) return false;
        }
    }

    private bool WaitForExit(int milliseconds)
    {
        var fd = new Posix.PollFd { Fd = _fd, Events = Posix.POLLIN };
        int n = Posix.Poll(&fd, 1, milliseconds);
        return n > 0 && (fd.Returned & (Posix.POLLIN | Posix.POLLHUP)) != 0;
    }

    public void Dispose()
    {
        if (_fd >= 0) Posix.Close(_fd);
        _fd = -1;
    }

    public override string ToString() => Pid.ToString();

    [LibraryImport("libc.so.6", EntryPoint = "syscall", SetLastError = true)]
    private static partial int SendSignal(long number, int pidfd, int signal, void* info, uint flags);
}
