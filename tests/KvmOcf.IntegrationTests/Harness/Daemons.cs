namespace KvmOcf.IntegrationTests.Harness;

/// <summary>Daemons started by hand (there is no systemd here), each in a session of its own so
/// that everything it spawns can be found and stopped again — and nothing else.</summary>
public static class Daemons
{
    public static readonly string[] CleanEnvironment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/root"];

    /// <summary>Starts <paramref name="argv"/> with a clean environment, stdout/stderr to
    /// <paramref name="log"/>; returns its PID (which is also its session id).</summary>
    public static int Start(string log, IEnumerable<string> argv, IEnumerable<string>? environment = null)
    {
        // setsid (not a group leader here) becomes the daemon in place, and so do env and sh, by
        // exec: its PID is the daemon's. Nobody waits for the run; the daemon's output goes to the log.
        var run = Cli.Wrap("setsid")
            .WithArguments(["env", "-i", .. CleanEnvironment, .. environment ?? [], "sh", "-c", "exec \"$@\" >>\"$0\" 2>&1 </dev/null", log, .. argv])
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync();
        return run.ProcessId;
    }

    public static bool IsAlive(int pid) => Stat(pid) is { } s && s.State != 'Z';

    /// <summary>Whether a live process named <paramref name="comm"/> shares our <paramref name="ns"/>
    /// namespace ("net", "mnt"): one in a lab node's namespaces does not compete with us.</summary>
    public static bool RunsHere(string comm, string ns)
    {
        var ours = NamespaceOf("self", ns);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (!int.TryParse(name, out var pid) || !IsAlive(pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "comm")).Trim() == comm && NamespaceOf(name, ns) == ours) return true;
            }
            catch (IOException) { }
        }
        return false;
    }

    private static string? NamespaceOf(string pid, string ns)
    {
        try { return new FileInfo($"/proc/{pid}/ns/{ns}").LinkTarget; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Every live process in the session <paramref name="sid"/>.</summary>
    public static List<int> InSession(int sid)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(dir), out var pid) && Stat(pid) is { } s && s.Session == sid && s.State != 'Z')
                pids.Add(pid);
        return pids;
    }

    /// <summary>Sends <paramref name="signal"/> to the session leader, waits for the whole session to
    /// end, and SIGKILLs what is left after <paramref name="grace"/>.</summary>
    public static void StopSession(int sid, string signal, TimeSpan grace)
    {
        if (IsAlive(sid)) Sh.Run("kill", "-" + signal, sid.ToString());
        if (Sh.Eventually(() => InSession(sid).Count == 0, grace)) return;
        foreach (var pid in InSession(sid)) Sh.Run("kill", "-KILL", pid.ToString());
        Sh.Eventually(() => InSession(sid).Count == 0, TimeSpan.FromSeconds(10));
    }

    private static (char State, int Session)? Stat(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (fields[0][0], int.Parse(fields[3]));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return null; }
    }
}
