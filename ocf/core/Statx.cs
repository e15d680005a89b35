using System.Runtime.InteropServices;

namespace KvmOcf.Core;

/// <summary>Which filesystem a path is on, asked without asking the filesystem: statx(2) with
/// AT_STATX_DONT_SYNC and an empty request mask makes network filesystems and FUSE answer from
/// their cache, never with a request to a server or a FUSE daemon (which may hang). Meant for
/// /proc magic links (<c>/proc/PID/cwd</c>, <c>root</c>, <c>exe</c>, <c>fd/N</c>): they lead straight
/// to the object a process holds, with no lookup on the way.</summary>
public static unsafe partial class Statx
{
    private const int AT_FDCWD = -100, AT_STATX_DONT_SYNC = 0x4000;
    private const int StatxSize = 0x100, DevMajorOffset = 0x88, DevMinorOffset = 0x8c;

    /// <summary>The device number (major, minor) of the filesystem <paramref name="path"/> is on —
    /// the superblock's, the same in every mount namespace — or null with the errno.</summary>
    public static (uint Major, uint Minor)? Device(string path, out int errno)
    {
        byte* buffer = stackalloc byte[StatxSize];
        if (Call(AT_FDCWD, path, AT_STATX_DONT_SYNC, 0, buffer) != 0)
        {
            errno = Posix.Errno;
            return null;
        }
        errno = 0;
        return (*(uint*)(buffer + DevMajorOffset), *(uint*)(buffer + DevMinorOffset));
    }

    [LibraryImport("libc.so.6", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Call(int directoryFd, string path, int flags, uint mask, byte* buffer);
}
