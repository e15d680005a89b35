namespace KvmOcf.IntegrationTests.Harness;

/// <summary>A process of this machine, told apart by PID and start time: with pid_max at 32768 and the
/// thousands of short-lived processes a lab spawns per minute, a PID alone is reused within seconds, so
/// "is that process still alive" needs both.</summary>
public readonly record struct HostProcess(int Pid, long StartTicks)
{
    public static HostProcess? Of(int pid) => StartOf(pid) is { } start ? new HostProcess(pid, start) : null;

    /// <summary>The same process still runs (a zombie has died: only its parent has not reaped it).</summary>
    public bool Alive => StartOf(Pid) == StartTicks;

    private static long? StartOf(int pid)
    {
        string stat;
        try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return null; }
        // pid (comm) state ppid … starttime is field 22; comm may hold spaces and parentheses
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields[0] == "Z" ? null : long.Parse(fields[19]);
    }
}
