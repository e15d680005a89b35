using System.Runtime.InteropServices;
using System.Text;
using KvmOcf.Ocf;

namespace KvmOcf.Libvirt;

/// <summary>A blocking-free UNIX stream socket on libc (socket/connect/poll/read/write): every
/// operation waits at most until its deadline. System.Net.Sockets would add a megabyte to the
/// agent, and start-up time grows with the binary.</summary>
internal sealed unsafe partial class UnixSocket : IDisposable
{
    private const int AF_UNIX = 1, SOCK_STREAM = 1, SOCK_NONBLOCK = 0x800, SOCK_CLOEXEC = 0x80000;
    private const int EINPROGRESS = 115, EAGAIN = 11, EINTR = 4, ECONNREFUSED = 111, ENOENT = 2;
    private const int SOL_SOCKET = 1, SO_ERROR = 4;
    private const short POLLIN = 1, POLLOUT = 4;
    private int _fd;

    private UnixSocket(int fd) => _fd = fd;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd { public int Fd; public short Events; public short Returned; }

    [LibraryImport("libc.so.6", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);
    [LibraryImport("libc.so.6", EntryPoint = "connect", SetLastError = true)]
    private static partial int Connect(int fd, byte* address, int length);
    [LibraryImport("libc.so.6", EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSockOpt(int fd, int level, int name, int* value, int* length);
    [LibraryImport("libc.so.6", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollFd* fds, nuint count, int timeoutMs);
    [LibraryImport("libc.so.6", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, byte* buffer, nint count);
    [LibraryImport("libc.so.6", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, byte* buffer, nint count);
    [LibraryImport("libc.so.6", EntryPoint = "close")]
    private static partial int Close(int fd);

    /// <summary>Connects to <paramref name="path"/>; a missing socket or a refused connection (the
    /// daemon is not running) and a connect that does not finish in time are
    /// <see cref="HypervisorUnreachableException"/>.</summary>
    public static UnixSocket Open(string path, Deadline deadline)
    {
        var pathBytes = Encoding.UTF8.GetBytes(path);
        if (pathBytes.Length >= 108) throw new OcfException(OcfExitCode.ErrConfigured, $"socket path {path} is too long");
        int fd = Socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) throw new IOException($"socket() failed: errno {Marshal.GetLastPInvokeError()}");
        var socket = new UnixSocket(fd);
        byte* address = stackalloc byte[110];
        new Span<byte>(address, 110).Clear();
        address[0] = AF_UNIX; // sa_family (little-endian short)
        pathBytes.CopyTo(new Span<byte>(address + 2, 108));
        if (Connect(fd, address, 2 + pathBytes.Length + 1) == 0) return socket;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == EINPROGRESS || errno == EAGAIN)
        {
            socket.WaitFor(POLLOUT, deadline, $"connecting to {path}");
            int error = 0, length = sizeof(int);
            GetSockOpt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
            if (error == 0) return socket;
            errno = error;
        }
        socket.Dispose();
        throw new HypervisorUnreachableException(errno switch
        {
            ENOENT => $"{path} does not exist (libvirtd not running?)",
            ECONNREFUSED => $"connection to {path} refused (libvirtd not running?)",
            _ => $"cannot connect to {path} (errno {errno})",
        });
    }

    public void WriteAll(ReadOnlySpan<byte> data, Deadline deadline)
    {
        fixed (byte* start = data)
        {
            for (int done = 0; done < data.Length;)
            {
                nint n = Write(_fd, start + done, data.Length - done);
                if (n > 0) { done += (int)n; continue; }
                int errno = Marshal.GetLastPInvokeError();
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && errno == EAGAIN) { WaitFor(POLLOUT, deadline, "sending to libvirtd"); continue; }
                throw new HypervisorUnreachableException($"libvirtd closed the connection (errno {errno})");
            }
        }
    }

    public void ReadExactly(Span<byte> into, Deadline deadline)
    {
        fixed (byte* start = into)
        {
            for (int done = 0; done < into.Length;)
            {
                nint n = Read(_fd, start + done, into.Length - done);
                if (n > 0) { done += (int)n; continue; }
                if (n == 0) throw new HypervisorUnreachableException("libvirtd closed the connection");
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                if (errno == EAGAIN) { WaitFor(POLLIN, deadline, "waiting for libvirtd"); continue; }
                throw new HypervisorUnreachableException($"reading from libvirtd failed (errno {errno})");
            }
        }
    }

    private void WaitFor(short events, Deadline deadline, string doing)
    {
        while (true)
        {
            var wait = (int)Math.Ceiling(deadline.Remaining.TotalMilliseconds);
            if (wait <= 0) throw new HypervisorUnreachableException($"libvirtd did not answer in time ({doing}; hung?)");
            var fd = new PollFd { Fd = _fd, Events = events };
            int r = Poll(&fd, 1, wait);
            if (r > 0) return;
            if (r < 0 && Marshal.GetLastPInvokeError() != EINTR) throw new IOException($"poll failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Dispose()
    {
        if (_fd >= 0) Close(_fd);
        _fd = -1;
    }
}

/// <summary>libvirtd cannot be reached or does not answer: whether the guest runs is unknown.</summary>
internal sealed class HypervisorUnreachableException(string reason) : OcfException(OcfExitCode.ErrGeneric, reason);
