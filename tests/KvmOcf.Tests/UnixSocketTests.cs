using System.Net.Sockets;
using KvmOcf.Ocf;

namespace KvmOcf.Tests;

/// <summary>The runtime's UNIX socket against real sockets: a daemon that is gone or silent must
/// come out as "unreachable" (an error), bounded by the deadline.</summary>
public sealed class UnixSocketTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmocf-sock-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Socket Bind(string path)
    {
        var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        server.Bind(new UnixDomainSocketEndPoint(path));
        return server;
    }

    private static Socket Listen(string path)
    {
        var server = Bind(path);
        server.Listen();
        return server;
    }

    [Fact]
    public void Missing_socket_is_unreachable_and_names_the_daemon()
    {
        var e = Assert.Throws<PeerUnreachableException>(() =>
            UnixSocket.Open(Path.Combine(_dir, "none"), "exampled", Deadline.After(TimeSpan.FromSeconds(5))));
        Assert.Equal(FailureKind.Unreachable, e.Kind);
        Assert.Contains("exampled not running?", e.Message);
    }

    [Fact]
    public void Refused_connection_is_unreachable()
    {
        var path = Path.Combine(_dir, "dead");
        using var bound = Bind(path); // a socket file nobody listens on: what a crashed daemon leaves
        var e = Assert.Throws<PeerUnreachableException>(() => UnixSocket.Open(path, "exampled", Deadline.After(TimeSpan.FromSeconds(5))));
        Assert.Contains("refused", e.Message);
    }

    [Fact]
    public void Bytes_round_trip_and_a_silent_peer_times_out()
    {
        var path = Path.Combine(_dir, "live");
        using var server = Listen(path);
        using var socket = UnixSocket.Open(path, "exampled", Deadline.After(TimeSpan.FromSeconds(5)));
        using var peer = server.Accept();

        socket.WriteAll("ping"u8, Deadline.After(TimeSpan.FromSeconds(5)));
        var got = new byte[4];
        Assert.Equal(4, peer.Receive(got));
        Assert.Equal("ping"u8.ToArray(), got);

        peer.Send("po"u8);
        var reply = new byte[4];
        var e = Assert.Throws<PeerUnreachableException>(() => socket.ReadExactly(reply, Deadline.After(TimeSpan.FromMilliseconds(200))));
        Assert.Contains("did not answer in time", e.Message);
        Assert.Equal("po"u8.ToArray(), reply[..2]);
    }

    [Fact]
    public void Peer_closing_mid_read_is_unreachable()
    {
        var path = Path.Combine(_dir, "closing");
        using var server = Listen(path);
        using var socket = UnixSocket.Open(path, "exampled", Deadline.After(TimeSpan.FromSeconds(5)));
        server.Accept().Dispose();
        var e = Assert.Throws<PeerUnreachableException>(() => socket.ReadExactly(new byte[8], Deadline.After(TimeSpan.FromSeconds(5))));
        Assert.Contains("exampled closed the connection", e.Message);
    }
}
