using System.Buffers.Binary;
using System.Text;
using KvmOcf.Ocf;

// Argument 1: the bus address (unix:path=... only). No argument: return at once (the code is still
// linked in), to show what merely carrying it costs.
if (args.Length == 0) return 0;
var path = args[0].Split(';')[0].Split(',').Select(p => p.Trim()).First(p => p.StartsWith("unix:path=", StringComparison.Ordinal))["unix:path=".Length..];
var deadline = Deadline.After(TimeSpan.FromSeconds(5));
using var bus = UnixSocket.Open(path, "dbus-daemon", deadline);
var id = MiniDBus.Call(bus, deadline, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId");
if (args.Length > 1 && args[1] == "-v") Console.WriteLine(id);
return id.Length == 32 ? 0 : 1;

/// <summary>Just enough D-Bus (little-endian, no body arguments, a string reply) for one call.</summary>
static class MiniDBus
{
    public static string Call(UnixSocket bus, Deadline deadline, string destination, string path, string @interface, string member)
    {
        var uid = Getuid().ToString(System.Globalization.CultureInfo.InvariantCulture);
        bus.WriteAll(Encoding.ASCII.GetBytes("\0AUTH EXTERNAL " + Convert.ToHexString(Encoding.ASCII.GetBytes(uid)) + "\r\n"), deadline);
        Span<byte> ok = stackalloc byte[37]; // "OK " + 32 hex digits of the server's guid + "\r\n"
        bus.ReadExactly(ok, deadline);
        if (!ok.StartsWith("OK "u8)) throw new IOException("D-Bus authentication rejected: " + Encoding.ASCII.GetString(ok));
        var calls = new List<byte>("BEGIN\r\n"u8.ToArray());
        calls.AddRange(MethodCall(1, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello"));
        calls.AddRange(MethodCall(2, destination, path, @interface, member));
        bus.WriteAll(calls.ToArray(), deadline);
        while (true)
        {
            var (type, replySerial, signature, body) = Receive(bus, deadline);
            if (replySerial != 2) continue; // Hello's reply, NameAcquired
            if (type == 3) throw new IOException($"{member} failed: {(signature == "s" ? ReadString(body, 0) : "error")}");
            if (type == 2 && signature == "s") return ReadString(body, 0);
            throw new IOException($"unexpected reply to {member} (type {type}, signature {signature})");
        }
    }

    [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "getuid")]
    private static extern uint Getuid();

    private static byte[] MethodCall(uint serial, string destination, string path, string @interface, string member)
    {
        var m = new List<byte> { (byte)'l', 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        BinaryPrimitives.WriteUInt32LittleEndian(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(m)[8..], serial);
        Field(m, 1, 'o', path);
        Field(m, 2, 's', @interface);
        Field(m, 3, 's', member);
        Field(m, 6, 's', destination);
        BinaryPrimitives.WriteUInt32LittleEndian(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(m)[12..], (uint)(m.Count - 16));
        Pad(m, 8);
        return m.ToArray();
    }

    private static void Field(List<byte> m, byte code, char type, string value)
    {
        Pad(m, 8);
        m.AddRange([code, 1, (byte)type, 0]);
        var bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)bytes.Length);
        m.AddRange(length);
        m.AddRange(bytes);
        m.Add(0);
    }

    private static void Pad(List<byte> m, int to) { while (m.Count % to != 0) m.Add(0); }

    private static (byte Type, uint ReplySerial, string Signature, byte[] Body) Receive(UnixSocket bus, Deadline deadline)
    {
        var fixedPart = new byte[16];
        bus.ReadExactly(fixedPart, deadline);
        if (fixedPart[0] != 'l') throw new IOException("big-endian D-Bus message");
        uint bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(fixedPart.AsSpan(4));
        uint fieldsLength = BinaryPrimitives.ReadUInt32LittleEndian(fixedPart.AsSpan(12));
        var rest = new byte[(int)((fieldsLength + 7) & ~7u) + (int)bodyLength];
        bus.ReadExactly(rest, deadline);
        uint replySerial = 0;
        string signature = "";
        int at = 0;
        while (at < fieldsLength)
        {
            at = Align(at, 8);
            byte code = rest[at];
            int sigLength = rest[at + 1];
            char type = (char)rest[at + 2];
            at += 2 + sigLength + 1;
            switch (type)
            {
                case 'u': at = Align(at, 4); if (code == 5) replySerial = BinaryPrimitives.ReadUInt32LittleEndian(rest.AsSpan(at)); at += 4; break;
                case 'g': { int n = rest[at]; if (code == 8) signature = Encoding.ASCII.GetString(rest, at + 1, n); at += 1 + n + 1; break; }
                default: { at = Align(at, 4); int n = (int)BinaryPrimitives.ReadUInt32LittleEndian(rest.AsSpan(at)); at += 4 + n + 1; break; } // o, s
            }
        }
        return (fixedPart[1], replySerial, signature, rest[(int)((fieldsLength + 7) & ~7u)..]);
    }

    // The fields start at offset 16 of the message, a multiple of 8: aligning within them is the same.
    private static int Align(int offset, int to) => (offset + to - 1) / to * to;

    private static string ReadString(byte[] body, int at) =>
        Encoding.UTF8.GetString(body, at + 4, (int)BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(at)));
}
