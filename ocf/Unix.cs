namespace KvmOcf.Ocf;

/// <summary>The POSIX calls agents need beyond the runtime's own, as a small public surface over
/// <see cref="Posix"/> (libc through [LibraryImport]).</summary>
public static class Unix
{
    public const int SIGTERM = 15, SIGKILL = 9, ESRCH = 3;

    /// <summary>kill(2); false with the errno when it failed (ESRCH: the process is gone).</summary>
    public static bool Signal(int pid, int signal, out int errno)
    {
        errno = 0;
        if (Posix.Kill(pid, signal) == 0) return true;
        errno = Posix.Errno;
        return false;
    }
}
