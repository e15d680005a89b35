using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace KvmOcf.Core;

/// <summary>A child started with posix_spawnp(3), its stdin/stdout/stderr on pipes, watched with
/// poll(2) on the pipes and a pidfd — one thread, no thread pool, and a small binary (an agent's
/// start-up time grows with its size; System.Diagnostics.Process alone adds half a millisecond to
/// every run). The child stays in the agent's process group, so pacemaker's SIGKILL of the group at
/// the operation timeout takes it too.</summary>
internal sealed unsafe class ChildProcess : IDisposable
{
    private static readonly TimeSpan PipeGrace = TimeSpan.FromMilliseconds(200);

    private int _stdin, _stdout, _stderr, _pidFd;
    private int _status;

    private ChildProcess(int pid, int stdin, int stdout, int stderr)
    {
        Pid = pid;
        (_stdin, _stdout, _stderr) = (stdin, stdout, stderr);
        _pidFd = Posix.PidFdOpen(pid);
        foreach (var fd in (ReadOnlySpan<int>)[stdin, stdout, stderr])
            Posix.Fcntl(fd, Posix.F_SETFL, Posix.Fcntl(fd, Posix.F_GETFL, 0) | Posix.O_NONBLOCK);
    }

    public int Pid { get; }
    public bool Exited { get; private set; }

    /// <summary>The exit code, or 128 + the signal that killed it.</summary>
    public int ExitCode => (_status & 0x7f) == 0 ? (_status >> 8) & 0xff : 128 + (_status & 0x7f);

    /// <summary>Starts <paramref name="program"/> (searched in PATH) with signals at their defaults
    /// and none blocked. <paramref name="environment"/> overrides (null removes) variables of ours.</summary>
    /// <returns>The child, or the errno posix_spawnp failed with.</returns>
    public static ChildProcess? Start(string program, IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string?> environment, out int error)
    {
        var allocated = new List<nint>();
        int* input = stackalloc int[2], output = stackalloc int[2], errors = stackalloc int[2];
        input[0] = input[1] = output[0] = output[1] = errors[0] = errors[1] = -1;
        Posix.SpawnFileActions actions;
        Posix.SpawnAttributes attributes;
        Posix.SignalSet none, all;
        try
        {
            if (Posix.Pipe2(input, Posix.O_CLOEXEC) != 0 || Posix.Pipe2(output, Posix.O_CLOEXEC) != 0 || Posix.Pipe2(errors, Posix.O_CLOEXEC) != 0)
            {
                error = Posix.Errno;
                return null;
            }
            Posix.FileActionsInit(&actions);
            Posix.FileActionsAddDup2(&actions, input[0], 0);
            Posix.FileActionsAddDup2(&actions, output[1], 1);
            Posix.FileActionsAddDup2(&actions, errors[1], 2);
            Posix.AttributesInit(&attributes);
            Posix.SignalSetEmpty(&none);
            Posix.SignalSetFill(&all);
            Posix.SignalSetDelete(&all, Posix.SIGKILL);
            Posix.SignalSetDelete(&all, 19 /* SIGSTOP */);
            Posix.AttributesSetSignalMask(&attributes, &none);
            // The .NET runtime ignores SIGPIPE; an ignored signal would be inherited across exec.
            Posix.AttributesSetSignalDefault(&attributes, &all);
            Posix.AttributesSetFlags(&attributes, Posix.POSIX_SPAWN_SETSIGMASK | Posix.POSIX_SPAWN_SETSIGDEF);

            byte** argv = stackalloc byte*[arguments.Count + 2];
            argv[0] = Utf8(program, allocated);
            for (int i = 0; i < arguments.Count; i++) argv[i + 1] = Utf8(arguments[i], allocated);
            argv[arguments.Count + 1] = null;
            byte** envp = environment.Count == 0 ? Posix.Environ : MergedEnvironment(environment, allocated);

            int pid;
            error = Posix.SpawnP(&pid, argv[0], &actions, &attributes, argv, envp);
            Posix.FileActionsDestroy(&actions);
            Posix.AttributesDestroy(&attributes);
            if (error != 0) return null;

            var child = new ChildProcess(pid, input[1], output[0], errors[0]);
            input[1] = output[0] = errors[0] = -1; // now the child's object owns them
            return child;
        }
        finally
        {
            for (int i = 0; i < 2; i++)
            {
                if (input[i] >= 0) Posix.Close(input[i]);
                if (output[i] >= 0) Posix.Close(output[i]);
                if (errors[i] >= 0) Posix.Close(errors[i]);
            }
            foreach (var p in allocated) Marshal.FreeCoTaskMem(p);
        }
    }

    /// <summary>Feeds <paramref name="input"/>, collects output (up to <paramref name="maxOutput"/>
    /// bytes per stream, the rest drained) until the child exits and its pipes close.</summary>
    /// <returns>False if the deadline passed first (the child is then still running).</returns>
    public bool Communicate(ReadOnlySpan<byte> input, Deadline deadline, int maxOutput, out string stdout, out string stderr)
    {
        var outBuffer = new CappedBuffer(maxOutput);
        var errBuffer = new CappedBuffer(maxOutput);
        int written = 0;
        if (input.IsEmpty) CloseFd(ref _stdin);
        long exitedAt = 0;
        Posix.PollFd* fds = stackalloc Posix.PollFd[4];
        byte* buffer = stackalloc byte[16384];

        while (true)
        {
            if (!Exited) Reap(Posix.WNOHANG);
            if (Exited && _stdout < 0 && _stderr < 0) break;
            if (Exited && exitedAt == 0) exitedAt = Stopwatch.GetTimestamp();
            // A daemon the child left behind may hold the pipes open: do not wait for it long.
            if (Exited && Stopwatch.GetElapsedTime(exitedAt) > PipeGrace) break;
            if (!Exited && deadline.Expired)
            {
                stdout = outBuffer.Text;
                stderr = errBuffer.Text;
                return false;
            }

            int n = 0;
            if (_stdout >= 0) fds[n++] = new Posix.PollFd { Fd = _stdout, Events = Posix.POLLIN };
            if (_stderr >= 0) fds[n++] = new Posix.PollFd { Fd = _stderr, Events = Posix.POLLIN };
            if (_stdin >= 0) fds[n++] = new Posix.PollFd { Fd = _stdin, Events = Posix.POLLOUT };
            if (!Exited && _pidFd >= 0) fds[n++] = new Posix.PollFd { Fd = _pidFd, Events = Posix.POLLIN };
            var wait = Exited ? PipeGrace : deadline.Remaining;
            if (!Exited && _pidFd < 0) wait = TimeSpan.FromMilliseconds(Math.Min(wait.TotalMilliseconds, 10)); // no pidfd: poll waitpid
            if (Posix.Poll(fds, (nuint)n, (int)Math.Ceiling(wait.TotalMilliseconds)) < 0)
            {
                if (Posix.Errno == Posix.EINTR) continue;
                throw new IOException($"poll failed: errno {Posix.Errno}");
            }
            for (int i = 0; i < n; i++)
            {
                if (fds[i].Returned == 0) continue;
                if (fds[i].Fd == _stdout) Drain(ref _stdout, outBuffer, buffer);
                else if (fds[i].Fd == _stderr) Drain(ref _stderr, errBuffer, buffer);
                else if (fds[i].Fd == _stdin) Feed(input, ref written);
            }
        }
        stdout = outBuffer.Text;
        stderr = errBuffer.Text;
        return true;
    }

    /// <summary>SIGKILLs the child and every descendant of it, then reaps the child if it dies within
    /// 100 ms. One stuck in the kernel (a FUSE request the daemon has not answered) cannot die
    /// before its I/O returns; the caller must not spend its own deadline waiting for that.</summary>
    public void KillTree()
    {
        if (!Exited) KillTree(Pid);
        if (!Exited && _pidFd >= 0)
        {
            var fd = new Posix.PollFd { Fd = _pidFd, Events = Posix.POLLIN };
            Posix.Poll(&fd, 1, 100);
        }
        if (!Exited) Reap(Posix.WNOHANG);
    }

    /// <summary>Kills <paramref name="pid"/> and its descendants, found through /proc (children
    /// first found, then all killed, so none escapes by being re-parented meanwhile).</summary>
    private static void KillTree(int pid)
    {
        var victims = ProcessTable.Descendants(pid);
        Posix.Kill(pid, Posix.SIGKILL);
        foreach (var v in victims) Posix.Kill(v, Posix.SIGKILL);
    }

    private void Reap(int options)
    {
        int status;
        int r = Posix.WaitPid(Pid, &status, options);
        if (r == Pid) { _status = status; Exited = true; }
        else if (r < 0 && Posix.Errno == Posix.ECHILD) { _status = 0xff00; Exited = true; } // reaped elsewhere: unknown, report 255
    }

    private static void Drain(ref int fd, CappedBuffer into, byte* buffer)
    {
        while (true)
        {
            nint got = Posix.Read(fd, buffer, 16384);
            if (got > 0) { into.Append(new ReadOnlySpan<byte>(buffer, (int)got)); continue; }
            if (got < 0 && Posix.Errno is Posix.EAGAIN) return;
            if (got < 0 && Posix.Errno is Posix.EINTR) continue;
            CloseFd(ref fd); // end of file, or an error we cannot do better with
            return;
        }
    }

    private void Feed(ReadOnlySpan<byte> input, ref int written)
    {
        fixed (byte* p = input)
        {
            while (written < input.Length)
            {
                nint n = Posix.Write(_stdin, p + written, input.Length - written);
                if (n > 0) { written += (int)n; continue; }
                if (n < 0 && Posix.Errno == Posix.EAGAIN) return;
                if (n < 0 && Posix.Errno == Posix.EINTR) continue;
                break; // EPIPE: the child does not want the rest
            }
        }
        CloseFd(ref _stdin);
    }

    private static void CloseFd(ref int fd)
    {
        if (fd >= 0) Posix.Close(fd);
        fd = -1;
    }

    public void Dispose()
    {
        CloseFd(ref _stdin);
        CloseFd(ref _stdout);
        CloseFd(ref _stderr);
        CloseFd(ref _pidFd);
    }

    private static byte* Utf8(string text, List<nint> allocated)
    {
        var p = Marshal.StringToCoTaskMemUTF8(text);
        allocated.Add(p);
        return (byte*)p;
    }

    /// <summary>Our environment (raw bytes, so values that are not UTF-8 pass through untouched)
    /// with <paramref name="overrides"/> applied.</summary>
    private static byte** MergedEnvironment(IReadOnlyDictionary<string, string?> overrides, List<nint> allocated)
    {
        var entries = new List<nint>();
        var names = overrides.Keys.Select(k => Encoding.UTF8.GetBytes(k + "=")).ToList();
        for (byte** e = Posix.Environ; *e != null; e++)
        {
            if (!Overridden(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(*e), names)) entries.Add((nint)(*e));
        }
        foreach (var (name, value) in overrides)
            if (value is not null) entries.Add((nint)Utf8($"{name}={value}", allocated));
        var envp = (byte**)Marshal.AllocCoTaskMem((entries.Count + 1) * sizeof(nint));
        allocated.Add((nint)envp);
        for (int i = 0; i < entries.Count; i++) envp[i] = (byte*)entries[i];
        envp[entries.Count] = null;
        return envp;
    }

    private static bool Overridden(ReadOnlySpan<byte> entry, List<byte[]> names)
    {
        foreach (var name in names) if (entry.StartsWith(name)) return true;
        return false;
    }

    private sealed class CappedBuffer(int cap)
    {
        private readonly MemoryStream _kept = new();
        public void Append(ReadOnlySpan<byte> data)
        {
            if (_kept.Length < cap) _kept.Write(data[..(int)Math.Min(data.Length, cap - _kept.Length)]);
        }
        public string Text => Encoding.UTF8.GetString(_kept.GetBuffer(), 0, (int)_kept.Length);
    }
}
