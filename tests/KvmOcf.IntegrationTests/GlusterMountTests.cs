using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>ocf:kvmocf:GlusterMount against real glusterd and FUSE: the OCF behaviour on a
/// single-node replica-3 volume, and the faults — each asserting the exit code and how long the
/// action took against its timeout — on a three-node volume.</summary>
[Collection(GlusterCollection.Name)]
[Trait("Stack", "gluster")]
public sealed class GlusterMountTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly GlusterSingleNode _single;
    private readonly GlusterThreeNodes _three;
    private readonly string _rsctmp = Directory.CreateTempSubdirectory("kvmocf-gm-rsctmp-").FullName;
    private readonly string _mountPoint = $"/mnt/kvmocf-{Guid.NewGuid().ToString()[..8]}";
    private readonly List<System.Diagnostics.Process> _processes = [];

    public GlusterMountTests(GlusterSingleNode single, GlusterThreeNodes three)
    {
        (_single, _three) = (single, three);
        Repo.RequireBuild();
    }

    public void Dispose()
    {
        foreach (var p in _processes) { try { p.Kill(); } catch (InvalidOperationException) { } }
        Sh.Run("umount", "-l", _mountPoint);
        _three.Heal();
        try { Directory.Delete(_mountPoint); } catch (IOException) { }
        Directory.Delete(_rsctmp, recursive: true);
    }

    private static string Agent => Path.Combine(Repo.StagedAgents, "GlusterMount");

    private AgentRun Run(GlusterLab lab, string action, Dictionary<string, string>? more = null, string interval = "20000", TimeSpan? timeout = null)
    {
        var parameters = new Dictionary<string, string>
        {
            ["device"] = lab.Device,
            ["directory"] = _mountPoint,
            ["OCF_RESOURCE_INSTANCE"] = "fs",
            ["HA_RSCTMP"] = _rsctmp,
            ["OCF_RESKEY_CRM_meta_interval"] = interval,
            ["health_interval"] = "0",
        };
        if (lab.BackupServers.Length > 0) parameters["backup_volfile_servers"] = lab.BackupServers;
        foreach (var (k, v) in more ?? []) parameters[k] = v;
        return AgentRun.Run(Agent, action, parameters, timeout ?? Timeout, lab.ClientPrefix);
    }

    private bool Mounted() => File.ReadAllText("/proc/self/mountinfo").Contains($" {_mountPoint} ");

    private System.Diagnostics.Process Background(string workingDirectory, params string[] argv)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(argv[0]) { WorkingDirectory = workingDirectory, UseShellExecute = false };
        foreach (var a in argv[1..]) psi.ArgumentList.Add(a);
        var p = System.Diagnostics.Process.Start(psi)!;
        _processes.Add(p);
        return p;
    }

    [Fact]
    public void Start_start_monitor_at_every_depth_probe_stop_stop()
    {
        Assert.Equal(7, Run(_single, "monitor", interval: "0").Code);
        Assert.Equal(7, Run(_single, "monitor").Code);
        var start = Run(_single, "start");
        Assert.True(start.Code == 0, start.ToString());
        Assert.Equal(0, Run(_single, "start").Code);
        Assert.True(Mounted());
        File.WriteAllText(Path.Combine(_mountPoint, "hello"), "gluster");
        Assert.Equal(0, Run(_single, "monitor").Code);
        Assert.Equal(0, Run(_single, "monitor", new() { ["OCF_CHECK_LEVEL"] = "10" }).Code);
        Assert.Equal(0, Run(_single, "monitor", new() { ["OCF_CHECK_LEVEL"] = "20" }).Code);
        Assert.True(File.Exists(Path.Combine(_mountPoint, ".Filesystem_status", $"fs_{Environment.MachineName}")));
        Assert.Equal(0, Run(_single, "monitor", interval: "0").Code);
        Assert.Equal(0, Run(_single, "stop").Code);
        Assert.False(Mounted());
        Assert.Equal(0, Run(_single, "stop").Code);
        Assert.Equal(7, Run(_single, "monitor").Code);
    }

    [Fact]
    public void Ocf_tester_passes_its_behavioural_checks()
    {
        var installed = Installed.Agent("GlusterMount");
        var run = Sh.Run(new Ocf.Command(_single.ClientPrefix[0]).WithArguments([.. _single.ClientPrefix[1..], "env", "HA_RSCTMP=" + _rsctmp,
            "ocf-tester", "-v", "-n", "fs", "-o", "device=" + _single.Device, "-o", "directory=" + _mountPoint, installed]), TimeSpan.FromMinutes(3));
        var failures = run.StandardOutput.Split('\n').Where(l => l.StartsWith("* rc=")).ToList();
        Assert.True(failures.Count == 0 || failures is [var only] && only.Contains(OcfTesterTests.DtdCheck), run.StandardOutput);
        Assert.False(Mounted());
    }

    [Fact]
    public void One_brick_killed_is_success_or_degraded_with_the_health_check()
    {
        Assert.Equal(0, Run(_three, "start").Code);
        _three.KillBricks(2);
        Assert.True(Sh.Eventually(() => _three.OnlineBricks() == 2, TimeSpan.FromSeconds(10)));
        Assert.Equal(0, Run(_three, "monitor").Code);
        var degraded = Run(_three, "monitor", new() { ["health_interval"] = "1s" });
        Assert.Equal(190, degraded.Code);
        Assert.Contains($"1 of 3 bricks of {_three.Volume} down: {_three.Server(2)}:", degraded.ExitReason);
        File.WriteAllText(Path.Combine(_mountPoint, "still-writable"), "yes");
    }

    [Fact]
    public void All_bricks_killed_is_an_error_not_success()
    {
        Assert.Equal(0, Run(_three, "start").Code);
        for (int node = 1; node <= 3; node++) _three.KillBricks(node);
        var monitor = Run(_three, "monitor");
        Assert.Equal(1, monitor.Code);
        Assert.Contains("not connected", monitor.ExitReason);
        Assert.Equal(1, Run(_three, "monitor", interval: "0").Code);   // mounted but dead: never "not running"
        Assert.True(monitor.Elapsed < Timeout);
    }

    [Fact]
    public void Hung_bricks_give_an_error_within_the_deadline_not_a_hang()
    {
        Assert.Equal(0, Run(_three, "start").Code);
        for (int node = 1; node <= 3; node++) _three.Suspend(node);
        AgentRun monitor;
        try { monitor = Run(_three, "monitor", timeout: TimeSpan.FromSeconds(4)); }
        finally { for (int node = 1; node <= 3; node++) _three.Resume(node); }
        Assert.Equal(1, monitor.Code);
        Assert.True(monitor.Elapsed < TimeSpan.FromSeconds(4), monitor.ToString());
        Assert.Contains("does not answer", monitor.ExitReason);
    }

    [Fact]
    public void A_killed_fuse_client_is_an_error_and_the_next_start_remounts()
    {
        Assert.Equal(0, Run(_three, "start").Code);
        Sh.Ok("pkill", "-KILL", "-f", $"glusterfs.* {_mountPoint}$");
        Assert.True(Sh.Eventually(() => !Sh.Run("pgrep", "-f", $"glusterfs.* {_mountPoint}$").Succeeded, TimeSpan.FromSeconds(5)));
        Assert.True(Mounted());                                          // the stale entry stays in the table
        var monitor = Run(_three, "monitor");
        Assert.Equal(1, monitor.Code);
        Assert.Contains("FUSE client is gone", monitor.ExitReason);
        Assert.Equal(1, Run(_three, "monitor", interval: "0").Code);
        var start = Run(_three, "start");
        Assert.True(start.Code == 0, start.ToString());
        Assert.Equal(0, Run(_three, "monitor").Code);
        Assert.Single(File.ReadAllText("/proc/self/mountinfo").Split('\n'), l => l.Contains($" {_mountPoint} "));
    }

    [Fact]
    public void A_dead_mount_is_stopped_without_signalling_its_users()
    {
        Assert.Equal(0, Run(_three, "start").Code);
        var user = Background(_mountPoint, "sleep", "300");
        Sh.Ok("pkill", "-KILL", "-f", $"glusterfs.* {_mountPoint}$");
        Thread.Sleep(500);
        var stop = Run(_three, "stop");
        Assert.Equal(0, stop.Code);
        Assert.False(Mounted());
        Assert.False(user.HasExited);                                    // its data path is dead; it is left alone
    }

    [Fact]
    public void With_glusterd_down_start_fails_within_its_timeout_with_a_reason()
    {
        _three.StopGlusterd();
        AgentRun start;
        try { start = Run(_three, "start", timeout: TimeSpan.FromSeconds(15)); }
        finally { _three.StartGlusterd(); }
        Assert.Equal(1, start.Code);
        Assert.True(start.Elapsed < TimeSpan.FromSeconds(15), start.ToString());
        Assert.Matches("mounting .* (failed|did not finish)|does not work", start.ExitReason);
        Assert.False(Mounted());
        Assert.False(Sh.Run("pgrep", "-f", $"glusterfs.* {_mountPoint}$").Succeeded, "a FUSE client was left behind");
    }

    [Fact]
    public void Stop_ends_only_the_processes_that_use_the_mount()
    {
        Assert.Equal(0, Run(_three, "start").Code);
        var decoyDirectory = Directory.CreateDirectory(_mountPoint + "-decoy").FullName;
        try
        {
            var decoy = Background(decoyDirectory, "sleep", "300");            // same path prefix, another directory
            var holder = Background("/", "sh", "-c", $"exec 3>{_mountPoint}/held; exec sleep 300");
            var inside = Background(_mountPoint, "sleep", "300");
            Thread.Sleep(500);
            var stop = Run(_three, "stop");
            Assert.True(stop.Code == 0, stop.ToString());
            Assert.False(Mounted());
            Assert.True(holder.WaitForExit(5000) && inside.WaitForExit(5000));
            Assert.False(decoy.HasExited);
            Assert.Contains($"uses {_mountPoint}", stop.Stderr);
        }
        finally { Directory.Delete(decoyDirectory); }
    }

    [Fact]
    public void A_different_filesystem_on_the_mount_point_is_refused()
    {
        Directory.CreateDirectory(_mountPoint);
        Sh.Ok("mount", "-t", "tmpfs", "tmpfs", _mountPoint);
        try
        {
            Assert.Equal(2, Run(_three, "start").Code);
            Assert.Equal(1, Run(_three, "monitor").Code);
            Assert.Equal(1, Run(_three, "stop").Code);
        }
        finally { Sh.Run("umount", _mountPoint); }
    }
}
