using System.Text;

namespace KvmOcf.Core;

/// <summary>A non-blocking UNIX stream socket on libc: every operation waits at most until its
/// deadline. System.Net.Sockets would add a megabyte to the agent, and start-up time grows with
/// the binary. Failures to reach or hear from the peer are <see cref="PeerUnreachableException"/>,
/// named after <c>peer</c> (e.g. "libvirtd").</summary>
public sealed unsafe class UnixSocket : IDisposable
{
    private const int ECONNREFUSED = 111, EINPROGRESS = 115;
    private readonly string _peer;
    private int _fd;

    private UnixSocket(int fd, string peer) { _fd = fd; _peer = peer; }

    /// <summary>Connects to <paramref name="path"/>; a missing socket, a refused connection (the
    /// daemon is not running) and a connect that does not finish in time are unreachable.</summary>
    public static UnixSocket Open(string path, string peer, Deadline deadline)
    {
        var pathBytes = Encoding.UTF8.GetBytes(path);
        if (pathBytes.Length >= 108) throw new OperationException(FailureKind.Failed, $"socket path {path} is too long");
        int fd = Posix.Socket(Posix.AF_UNIX, Posix.SOCK_STREAM | Posix.SOCK_NONBLOCK | Posix.SOCK_CLOEXEC, 0);
        if (fd < 0) throw new IOException($"socket() failed: errno {Posix.Errno}");
        var socket = new UnixSocket(fd, peer);
        byte* address = stackalloc byte[110];
        new Span<byte>(address, 110).Clear();
        address[0] = Posix.AF_UNIX; // sa_family (little-endian short)
        pathBytes.CopyTo(new Span<byte>(address + 2, 108));
        if (Posix.Connect(fd, address, 2 + pathBytes.Length + 1) == 0) return socket;
        int errno = Posix.Errno;
        if (errno is EINPROGRESS or Posix.EAGAIN)
        {
            socket.WaitFor(Posix.POLLOUT, deadline, $"connecting to {path}");
            int error = 0, length = sizeof(int);
            Posix.GetSockOpt(fd, Posix.SOL_SOCKET, Posix.SO_ERROR, &error, &length);
            if (error == 0) return socket;
            errno = error;
        }
        socket.Dispose();
        throw new PeerUnreachableException(errno switch
        {
            Posix.ENOENT => $"{path} does not exist ({peer} not running?)",
            ECONNREFUSED => $"connection to {path} refused ({peer} not running?)",
            _ => $"cannot connect to {path} (errno {errno})",
        });
    }

    public void WriteAll(ReadOnlySpan<byte> data, Deadline deadline)
    {
        fixed (byte* start = data)
        {
            for (int done = 0; done < data.Length;)
            {
                nint n = Posix.Write(_fd, start + done, data.Length - done);
                if (n > 0) { done += (int)n; continue; }
                int errno = Posix.Errno;
                if (n < 0 && errno == Posix.EINTR) continue;
                if (n < 0 && errno == Posix.EAGAIN) { WaitFor(Posix.POLLOUT, deadline, $"sending to {_peer}"); continue; }
                throw new PeerUnreachableException($"{_peer} closed the connection (errno {errno})");
            }
        }
    }

    public void ReadExactly(Span<byte> into, Deadline deadline)
    {
        fixed (byte* start = into)
        {
            for (int done = 0; done < into.Length;)
            {
                nint n = Posix.Read(_fd, start + done, into.Length - done);
                if (n > 0) { done += (int)n; continue; }
                if (n == 0) throw new PeerUnreachableException($"{_peer} closed the connection");
                int errno = Posix.Errno;
                if (errno == Posix.EINTR) continue;
                if (errno == Posix.EAGAIN) { WaitFor(Posix.POLLIN, deadline, $"waiting for {_peer}"); continue; }
                throw new PeerUnreachableException($"reading from {_peer} failed (errno {errno})");
            }
        }
    }

    private void WaitFor(short events, Deadline deadline, string doing)
    {
        while (true)
        {
            var wait = (int)Math.Ceiling(deadline.Remaining.TotalMilliseconds);
            if (wait <= 0) throw new PeerUnreachableException($"{_peer} did not answer in time ({doing}; hung?)");
            var fd = new Posix.PollFd { Fd = _fd, Events = events };
            int r = Posix.Poll(&fd, 1, wait);
            if (r > 0) return;
            if (r < 0 && Posix.Errno != Posix.EINTR) throw new IOException($"poll failed: errno {Posix.Errno}");
        }
    }

    public void Dispose()
    {
        if (_fd >= 0) Posix.Close(_fd);
        _fd = -1;
    }
}

/// <summary>A daemon the agent must ask cannot be reached or does not answer in time: what it
/// would have said (e.g. whether a guest runs) is unknown, which is an error, never "not running".</summary>
public sealed class PeerUnreachableException(string reason) : OperationException(FailureKind.Unreachable, reason);
