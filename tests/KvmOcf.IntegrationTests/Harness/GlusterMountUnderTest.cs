namespace KvmOcf.IntegrationTests.Harness;

/// <summary>One ocf:kvmocf:GlusterMount resource under test: the binary (the staged one unless
/// told), a fresh mount point and HA_RSCTMP, the processes a test starts around it. Disposal kills
/// those processes, detaches the mount point and removes what it created. Every test that mounts a
/// lab's volume through the agent does it through one of these.</summary>
public sealed class GlusterMountUnderTest : IDisposable
{
    private readonly List<BackgroundProcess> _processes = [];

    public string MountPoint { get; } = $"/mnt/kvmocf-{Guid.NewGuid().ToString()[..8]}";
    public string RscTmp { get; } = Directory.CreateTempSubdirectory("kvmocf-gm-rsctmp-").FullName;
    public static string Staged => Path.Combine(Repo.StagedAgents, "GlusterMount");
    /// <summary>The agent binary that runs: the staged one, or e.g. the copy installed for pacemaker.</summary>
    public string Binary { get; init; } = Staged;

    /// <summary>Runs an action the way pacemaker would, mounting <paramref name="lab"/>'s volume
    /// (backup volfile servers included) at <see cref="MountPoint"/>, from the lab's client network
    /// namespace (or behind <paramref name="prefix"/>, e.g. on a lab node); <paramref name="more"/>
    /// adds or overrides parameters (OCF_/HA_ names as they are, others as OCF_RESKEY_).</summary>
    public AgentRun Run(GlusterLab lab, string action, Dictionary<string, string>? more = null, string interval = "20000",
        TimeSpan? timeout = null, IEnumerable<string>? prefix = null, Dictionary<string, string>? extra = null)
    {
        var parameters = new Dictionary<string, string>
        {
            ["device"] = lab.Device,
            ["directory"] = MountPoint,
            ["OCF_RESOURCE_INSTANCE"] = "fs",
            ["HA_RSCTMP"] = RscTmp,
            ["OCF_RESKEY_CRM_meta_interval"] = interval,
            ["health_interval"] = "0",
        };
        if (lab.BackupServers.Length > 0) parameters["backup_volfile_servers"] = lab.BackupServers;
        foreach (var (k, v) in more ?? []) parameters[k] = v;
        return AgentRun.Run(Binary, action, parameters, timeout ?? TimeSpan.FromSeconds(20), prefix ?? lab.ClientPrefix, extra);
    }

    public bool Mounted() => Mounted(MountPoint);

    public static bool Mounted(string mountPoint) => File.ReadAllText("/proc/self/mountinfo").Contains($" {mountPoint} ");

    /// <summary>Mounts of <paramref name="lab"/>'s volume anywhere in this mount namespace.</summary>
    public static int MountsOf(GlusterLab lab) =>
        File.ReadAllLines("/proc/self/mountinfo").Count(l => l.Contains(" fuse.glusterfs ") && l.Contains($":/{lab.Volume} "));

    /// <summary>PIDs of the glusterfs FUSE clients serving the mount point (its last argument).</summary>
    public List<int> FuseClients() =>
        Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(p => p!.All(char.IsAsciiDigit)).Select(p => int.Parse(p!))
            .Where(pid => Comm(pid) == "glusterfs" && Read($"/proc/{pid}/cmdline").TrimEnd('\0').EndsWith("\0" + MountPoint, StringComparison.Ordinal))
            .ToList();

    /// <summary>Kills the FUSE clients of the mount point (a crashed client) and waits until they are gone.</summary>
    public void KillFuseClients()
    {
        Sh.Ok("kill", ["-KILL", .. FuseClients().Select(p => p.ToString())]);
        Assert.True(Sh.Eventually(() => FuseClients().Count == 0, TimeSpan.FromSeconds(5)), "the FUSE client did not die");
    }

    /// <summary>Starts a process that the test ends (if it is still there) on disposal.</summary>
    public BackgroundProcess Background(string workingDirectory, params string[] argv)
    {
        var p = new BackgroundProcess(workingDirectory, argv);
        _processes.Add(p);
        return p;
    }

    /// <summary>Waits until the background processes have reached their final program (sleep).</summary>
    public static void Settled(params BackgroundProcess[] processes) =>
        Assert.True(Sh.Eventually(() => processes.All(p => Comm(p.Id) == "sleep"), TimeSpan.FromSeconds(10)), "the test's processes did not start");

    private static string? Comm(int pid) => Read($"/proc/{pid}/comm").Trim() is { Length: > 0 } comm ? comm : null;

    private static string Read(string path)
    {
        try { return File.ReadAllText(path); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
    }

    public void Dispose()
    {
        foreach (var p in _processes) p.Dispose();
        Sh.Run("umount", "-l", MountPoint);
        try { Directory.Delete(MountPoint); } catch (IOException) { }
        Directory.Delete(RscTmp, recursive: true);
    }
}
