namespace KvmOcf.Ocf;

/// <summary>The POSIX calls agents need beyond the runtime's own, as a small public surface over
/// <see cref="Posix"/> (libc through [LibraryImport]).</summary>
public static unsafe class Unix
{
    public const int SIGTERM = 15, SIGKILL = 9, ENOTCONN = 107, ENOENT = 2, ESRCH = 3;

    /// <summary>kill(2); false with the errno when it failed (ESRCH: the process is gone).</summary>
    public static bool Signal(int pid, int signal, out int errno)
    {
        errno = 0;
        if (Posix.Kill(pid, signal) == 0) return true;
        errno = Posix.Errno;
        return false;
    }

    /// <summary>statfs(2): the filesystem type magic, or null with the errno.</summary>
    public static long? FileSystemType(string path, out int errno)
    {
        byte* buffer = stackalloc byte[256]; // struct statfs is 120 bytes on x86-64; f_type comes first
        errno = 0;
        if (Posix.StatFs(path, buffer) == 0) return *(long*)buffer;
        errno = Posix.Errno;
        return null;
    }

    /// <summary>The errno's text ("Transport endpoint is not connected").</summary>
    public static string Describe(int errno) => new System.ComponentModel.Win32Exception(errno).Message;
}
