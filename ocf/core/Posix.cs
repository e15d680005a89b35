using System.Runtime.InteropServices;

namespace KvmOcf.Core;

/// <summary>The libc seam, bound with [LibraryImport] (no Mono.Posix/Mono.Unix: see README's
/// Dependencies): syslog, what <see cref="ChildProcess"/> needs to spawn, watch and kill children,
/// what <see cref="UnixSocket"/> needs to talk to a local daemon, and the one set of errno and
/// signal numbers.</summary>
public static unsafe partial class Posix
{
    private const string LibC = "libc.so.6";

    public const int LOG_PID = 0x01;
    public const int EINTR = 4, EAGAIN = 11, ECHILD = 10, ENOENT = 2, EACCES = 13, ENOSYS = 38;
    public const int O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
    public const int F_GETFL = 3, F_SETFL = 4;
    public const short POLLIN = 0x1, POLLOUT = 0x4, POLLERR = 0x8, POLLHUP = 0x10, POLLNVAL = 0x20;
    public const int WNOHANG = 1;
    public const int SIGKILL = 9, SIGTERM = 15, ESRCH = 3;
    public const int AF_UNIX = 1, SOCK_STREAM = 1, SOCK_NONBLOCK = 0x800, SOCK_CLOEXEC = 0x80000, SOL_SOCKET = 1, SO_ERROR = 4;
    public const short POSIX_SPAWN_SETSIGDEF = 4, POSIX_SPAWN_SETSIGMASK = 8;
    private const long SYS_pidfd_open = 434;

    /// <summary>Opaque glibc structures, sized generously (glibc x86-64: 80, 336 and 128 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)] public struct SpawnFileActions;
    [StructLayout(LayoutKind.Sequential, Size = 512)] public struct SpawnAttributes;
    [StructLayout(LayoutKind.Sequential, Size = 256)] public struct SignalSet;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Returned;
    }

    [LibraryImport(LibC, EntryPoint = "openlog")]
    public static partial void OpenLog(nint ident, int option, int facility);

    // syslog(3) is variadic; a fixed ("%s", msg) call is ABI-compatible on x86-64 and keeps any
    // '%' in the message from being read as a format directive.
    [LibraryImport(LibC, EntryPoint = "syslog", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void Syslog(int priority, string format, string message);

    [LibraryImport(LibC, EntryPoint = "_exit")]
    public static partial void Exit(int status);

    [LibraryImport(LibC, EntryPoint = "pipe2", SetLastError = true)]
    public static partial int Pipe2(int* fds, int flags);

    [LibraryImport(LibC, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport(LibC, EntryPoint = "close")]
    public static partial int Close(int fd);

    [LibraryImport(LibC, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport(LibC, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nint count);

    [LibraryImport(LibC, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(LibC, EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(LibC, EntryPoint = "connect", SetLastError = true)]
    public static partial int Connect(int fd, byte* address, int length);

    [LibraryImport(LibC, EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSockOpt(int fd, int level, int name, int* value, int* length);

    [LibraryImport(LibC, EntryPoint = "waitpid", SetLastError = true)]
    public static partial int WaitPid(int pid, int* status, int options);

    [LibraryImport(LibC, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport(LibC, EntryPoint = "syscall", SetLastError = true)]
    private static partial int Syscall(long number, int pid, uint flags);

    /// <summary>A file descriptor that becomes readable when the process exits (Linux ≥ 5.3), or -1.</summary>
    public static int PidFdOpen(int pid) => Syscall(SYS_pidfd_open, pid, 0);

    [LibraryImport(LibC, EntryPoint = "posix_spawnp")]
    public static partial int SpawnP(int* pid, byte* file, SpawnFileActions* actions, SpawnAttributes* attributes, byte** argv, byte** envp);

    [LibraryImport(LibC, EntryPoint = "posix_spawn_file_actions_init")]
    public static partial int FileActionsInit(SpawnFileActions* actions);

    [LibraryImport(LibC, EntryPoint = "posix_spawn_file_actions_adddup2")]
    public static partial int FileActionsAddDup2(SpawnFileActions* actions, int fd, int newFd);

    [LibraryImport(LibC, EntryPoint = "posix_spawn_file_actions_destroy")]
    public static partial int FileActionsDestroy(SpawnFileActions* actions);

    [LibraryImport(LibC, EntryPoint = "posix_spawnattr_init")]
    public static partial int AttributesInit(SpawnAttributes* attributes);

    [LibraryImport(LibC, EntryPoint = "posix_spawnattr_setflags")]
    public static partial int AttributesSetFlags(SpawnAttributes* attributes, short flags);

    [LibraryImport(LibC, EntryPoint = "posix_spawnattr_setsigmask")]
    public static partial int AttributesSetSignalMask(SpawnAttributes* attributes, SignalSet* mask);

    [LibraryImport(LibC, EntryPoint = "posix_spawnattr_setsigdefault")]
    public static partial int AttributesSetSignalDefault(SpawnAttributes* attributes, SignalSet* signals);

    [LibraryImport(LibC, EntryPoint = "posix_spawnattr_destroy")]
    public static partial int AttributesDestroy(SpawnAttributes* attributes);

    [LibraryImport(LibC, EntryPoint = "sigemptyset")]
    public static partial int SignalSetEmpty(SignalSet* set);

    [LibraryImport(LibC, EntryPoint = "sigfillset")]
    public static partial int SignalSetFill(SignalSet* set);

    [LibraryImport(LibC, EntryPoint = "sigdelset")]
    public static partial int SignalSetDelete(SignalSet* set, int signal);

    /// <summary>The process's <c>char **environ</c>.</summary>
    public static byte** Environ => *(byte***)NativeLibrary.GetExport(NativeLibrary.Load(LibC), "environ");

    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>kill(2); false with the errno when it failed (ESRCH: the process is gone).</summary>
    public static bool Signal(int pid, int signal, out int errno)
    {
        errno = 0;
        if (Kill(pid, signal) == 0) return true;
        errno = Errno;
        return false;
    }
}
