using System.Text;

namespace KvmOcf.Core;

/// <summary>A TextWriter straight onto a file descriptor with write(2): no Console machinery at
/// start-up, and a write that fails (a closed stdout) is an IOException, not silently dropped.</summary>
public sealed unsafe class FdWriter(int fd, bool autoFlush) : TextWriter
{
    private static readonly Encoding Utf8 = new UTF8Encoding(false);
    private readonly StringBuilder _pending = new();

    public override Encoding Encoding => Utf8;

    public override void Write(char value)
    {
        _pending.Append(value);
        if (autoFlush && value == '\n') Flush();
    }

    public override void Write(char[] buffer, int index, int count)
    {
        _pending.Append(buffer, index, count);
        if (autoFlush) Flush();
    }

    public override void Write(string? value)
    {
        _pending.Append(value);
        if (autoFlush) Flush();
    }

    public override void WriteLine(string? value)
    {
        _pending.Append(value).Append('\n');
        if (autoFlush) Flush();
    }

    public override void Flush()
    {
        if (_pending.Length == 0) return;
        var bytes = Utf8.GetBytes(_pending.ToString());
        _pending.Clear();
        fixed (byte* start = bytes)
        {
            for (int done = 0; done < bytes.Length;)
            {
                nint n = Posix.Write(fd, start + done, bytes.Length - done);
                if (n > 0) { done += (int)n; continue; }
                if (n < 0 && Posix.Errno == Posix.EINTR) continue;
                throw new IOException($"cannot write to file descriptor {fd} (errno {Posix.Errno})");
            }
        }
    }
}
