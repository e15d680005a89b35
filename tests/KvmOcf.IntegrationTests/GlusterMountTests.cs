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
    private readonly GlusterMountUnderTest _fs = new();
    private string MountPoint => _fs.MountPoint;
    private string RscTmp => _fs.RscTmp;

    public GlusterMountTests(GlusterSingleNode single, GlusterThreeNodes three)
    {
        (_single, _three) = (single, three);
        Repo.RequireBuild();
    }

    public void Dispose()
    {
        _fs.Dispose();
        _three.Heal();
    }

    private AgentRun Run(GlusterLab lab, string action, Dictionary<string, string>? more = null, string interval = "20000", TimeSpan? timeout = null,
        IEnumerable<string>? prefix = null, Dictionary<string, string>? extra = null) =>
        _fs.Run(lab, action, more, interval, timeout ?? Timeout, prefix, extra);

    private bool Mounted() => _fs.Mounted();
    private static bool Mounted(string mountPoint) => GlusterMountUnderTest.Mounted(mountPoint);
    private static int MountsOf(GlusterLab lab) => GlusterMountUnderTest.MountsOf(lab);
    private static void Settled(params BackgroundProcess[] processes) => GlusterMountUnderTest.Settled(processes);
    private BackgroundProcess Background(string workingDirectory, params string[] argv) => _fs.Background(workingDirectory, argv);

    [Fact]
    public void Start_start_monitor_at_every_depth_probe_stop_stop()
    {
        Assert.Equal(7, Run(_single, "monitor", interval: "0").Code);
        Assert.Equal(7, Run(_single, "monitor").Code);
        var start = Run(_single, "start");
        Assert.True(start.Code == 0, start.ToString());
        Assert.Equal(0, Run(_single, "start").Code);
        Assert.True(Mounted());
        File.WriteAllText(Path.Combine(MountPoint, "hello"), "gluster");
        Assert.Equal(0, Run(_single, "monitor").Code);
        Assert.Equal(0, Run(_single, "monitor", new() { ["OCF_CHECK_LEVEL"] = "10" }).Code);
        Assert.Equal(0, Run(_single, "monitor", new() { ["OCF_CHECK_LEVEL"] = "20" }).Code);
        Assert.True(File.Exists(Path.Combine(MountPoint, ".Filesystem_status", $"fs_{Environment.MachineName}")));
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
        var run = OcfTester.Run(installed, "fs", ["device=" + _single.Device, "directory=" + MountPoint], TimeSpan.FromMinutes(3),
            [.. _single.ClientPrefix, "env", "HA_RSCTMP=" + RscTmp]);
        OcfTester.AssertOnlyTheDtdCheckFails(run);
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
        File.WriteAllText(Path.Combine(MountPoint, "still-writable"), "yes");
    }

    [Fact]
    public void All_bricks_killed_is_an_error_not_success()
    {
        Assert.Equal(0, Run(_three, "start").Code);
        _three.KillAllBricks();
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
        _three.SuspendAll();
        AgentRun monitor;
        try { monitor = Run(_three, "monitor", timeout: TimeSpan.FromSeconds(4)); }
        finally { _three.ResumeAll(); }
        Assert.Equal(1, monitor.Code);
        Assert.True(monitor.Elapsed < TimeSpan.FromSeconds(4), monitor.ToString());
        Assert.Contains("does not answer", monitor.ExitReason);
    }

    [Fact]
    public void A_killed_fuse_client_is_an_error_and_the_next_start_remounts()
    {
        Assert.Equal(0, Run(_three, "start").Code);
        _fs.KillFuseClients();
        Assert.True(Mounted());                                          // the stale entry stays in the table
        var monitor = Run(_three, "monitor");
        Assert.Equal(1, monitor.Code);
        Assert.Contains("FUSE client is gone", monitor.ExitReason);
        Assert.Equal(1, Run(_three, "monitor", interval: "0").Code);
        var start = Run(_three, "start");
        Assert.True(start.Code == 0, start.ToString());
        Assert.Equal(0, Run(_three, "monitor").Code);
        Assert.Single(File.ReadAllText("/proc/self/mountinfo").Split('\n'), l => l.Contains($" {MountPoint} "));
    }

    [Fact]
    public void A_dead_mount_is_stopped_without_signalling_its_users()
    {
        Assert.Equal(0, Run(_three, "start").Code);
        var user = Background(MountPoint, "sleep", "300");
        _fs.KillFuseClients();
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
        Assert.True(_fs.FuseClients().Count == 0, "a FUSE client was left behind");
    }

    [Fact]
    public void Stop_ends_only_the_processes_that_use_the_volume_in_any_mount_namespace()
    {
        Directory.CreateDirectory(MountPoint);
        var hidden = Background(MountPoint, "sleep", "300");              // in the directory the mount will hide
        Assert.Equal(0, Run(_three, "start").Code);
        File.WriteAllText(Path.Combine(MountPoint, "held"), "x");
        var decoyDirectory = Directory.CreateDirectory(MountPoint + "-decoy").FullName;
        try
        {
            var decoy = Background(decoyDirectory, "sleep", "300");            // same path prefix, another directory
            var holder = Background("/", "sh", "-c", $"exec 3>{MountPoint}/held; exec sleep 300");
            var inside = Background(MountPoint, "sleep", "300");
            // through the copies of the mount in other namespaces: another mount ID, the same filesystem
            var slave = Background("/", "unshare", "--mount", "--propagation", "slave", "sh", "-c", $"exec 3<{MountPoint}/held; exec sleep 300");
            var qemuLike = Background("/", "unshare", "--mount", "--propagation", "private", "sh", "-c", $"exec 3<{MountPoint}/held; exec sleep 300");
            // the same path in another namespace, on another filesystem
            var lookAlike = Background("/", "unshare", "--mount", "--propagation", "private", "sh", "-c",
                $"umount -l {MountPoint} && mount -t tmpfs lookalike {MountPoint} && cd {MountPoint} && exec sleep 300");
            Settled(hidden, decoy, holder, inside, slave, qemuLike, lookAlike);

            var stop = Run(_three, "stop");
            Assert.True(stop.Code == 0, stop.ToString());
            Assert.False(Mounted());
            foreach (var user in new[] { holder, inside, slave, qemuLike }) Assert.True(user.WaitForExit(5000), $"process {user.Id} still runs");
            Assert.False(decoy.HasExited || hidden.HasExited || lookAlike.HasExited, stop.Stderr);
            Assert.Contains($"uses {MountPoint}", stop.Stderr);
        }
        finally { Directory.Delete(decoyDirectory); }
    }

    [Fact]
    public void Stop_fails_and_detaches_nothing_while_a_user_cannot_be_ended()
    {
        Assert.Equal(0, Run(_three, "start").Code);
        var held = Path.Combine(MountPoint, "held");
        File.WriteAllText(held, "x");

        // init of a PID namespace (here: the agent's own) holds a file on the volume
        var init = Run(_three, "stop", prefix: ["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", "exec 3<\"$0\"; \"$@\" 3<&-", held]);
        Assert.Equal(1, init.Code);
        Assert.Matches("in use by process 1 \\(sh: open file .*held\\), which cannot be ended", init.ExitReason);
        Assert.True(Mounted());

        var user = Background(MountPoint, "sleep", "300");
        Settled(user);
        var refused = Run(_three, "stop", new() { ["force_unmount"] = "false" });
        Assert.Equal(1, refused.Code);
        Assert.Contains("force_unmount is false", refused.ExitReason);
        Assert.True(Mounted());
        Assert.False(user.HasExited);
    }

    [Fact]
    public void A_foreign_mount_below_the_directory_fails_the_stop_and_nothing_is_detached()
    {
        Assert.Equal(0, Run(_three, "start").Code);
        var nested = Directory.CreateDirectory(Path.Combine(MountPoint, "nested")).FullName;
        Sh.Ok("mount", "-t", "tmpfs", "nested", nested);
        try
        {
            var stop = Run(_three, "stop");
            Assert.Equal(1, stop.Code);
            Assert.Contains($"{nested} (tmpfs) is mounted below {MountPoint}", stop.ExitReason);
            Assert.True(Mounted() && Mounted(nested));
            Assert.Equal(0, Run(_three, "monitor").Code);
        }
        finally { Sh.Run("umount", nested); }
        Assert.Equal(0, Run(_three, "stop").Code);
        Assert.False(Mounted());
    }

    [Theory]
    [InlineData("{0}/")]
    [InlineData("/mnt//{1}")]
    [InlineData("//mnt/./{1}//")]
    public void An_odd_spelling_of_the_directory_is_the_same_mount(string spelling)
    {
        var odd = new Dictionary<string, string> { ["directory"] = string.Format(spelling, MountPoint, Path.GetFileName(MountPoint)) };
        var start = Run(_single, "start", odd);
        Assert.True(start.Code == 0, start.ToString());
        Assert.True(Mounted());
        Assert.Equal(0, Run(_single, "monitor", odd).Code);
        Assert.Equal(0, Run(_single, "monitor", odd, interval: "0").Code);
        Assert.Equal(0, Run(_single, "start").Code);                      // the plain spelling: already mounted
        Assert.Equal(0, Run(_single, "stop", odd).Code);
        Assert.False(Mounted());
        Assert.Equal(7, Run(_single, "monitor", odd, interval: "0").Code);
    }

    [Fact]
    public void Directories_that_cannot_be_mounted_safely_are_refused_before_anything_is_mounted()
    {
        Directory.CreateDirectory(MountPoint);
        var link = MountPoint + "-link";
        File.CreateSymbolicLink(link, MountPoint);
        var brick = Directory.GetDirectories(_single.BrickDirectory(1)).First();
        var before = MountsOf(_single);
        try
        {
            var everywhere = new[] { "start", "validate-all", "monitor", "stop" };   // monitor and stop: logged, never 6
            var cases = new (string Directory, string? RscTmp, string[] Actions, string Reason)[]
            {
                ($"{MountPoint}/sub/..", null, everywhere, "contains '..'"),
                ("/var/lib", null, everywhere, "would cover /var/lib/glusterd"),
                (MountPoint, Path.Combine(MountPoint, "rsctmp"), everywhere, $"would cover {MountPoint}/rsctmp"),
                (link, null, ["validate-all", "start"], $"leads to {MountPoint} through a symlink"),
                (_single.BrickDirectory(1), null, ["validate-all", "start"], $"holds the brick {_single.BrickDirectory(1)}/"),
                (Path.Combine(brick, "mnt"), null, ["validate-all", "start"], $"is inside the brick {brick}"),
            };
            foreach (var (directory, rsctmp, actions, reason) in cases)
                foreach (var action in actions)
                {
                    var more = new Dictionary<string, string> { ["directory"] = directory, ["OCF_CHECK_LEVEL"] = "10" };
                    if (rsctmp is not null) more["HA_RSCTMP"] = rsctmp;
                    var run = Run(_single, action, more, interval: "0");
                    if (action is "start" or "validate-all") Assert.True(run.Code == 6 && run.ExitReason!.Contains(reason), $"{directory} {action}: {run}");
                    else Assert.True(run.Code is 0 or 1 or 7 && run.Stderr.Contains(reason), $"{directory} {action}: {run}");   // nothing is mounted there
                    // a start that got past this would mount over a brick and hang the node: stop here
                    Assert.Equal(before, MountsOf(_single));
                }
            Assert.False(Directory.Exists(Path.Combine(brick, "mnt")));
        }
        finally { File.Delete(link); }
    }

    [Fact]
    public void A_mount_reached_through_a_symlink_is_never_reported_stopped()
    {
        // as an agent that followed the symlink left it (mount(8) mounts at the link's target)
        Assert.Equal(0, Run(_single, "start").Code);
        var link = MountPoint + "-link";
        File.CreateSymbolicLink(link, MountPoint);
        try
        {
            var viaLink = new Dictionary<string, string> { ["directory"] = link };
            var probe = Run(_single, "monitor", viaLink, interval: "0");
            Assert.Equal(1, probe.Code);
            Assert.Contains($"leads to {MountPoint} (a symlink)", probe.ExitReason);
            Assert.Equal(1, Run(_single, "monitor", viaLink).Code);
            Assert.Equal(1, Run(_single, "stop", viaLink).Code);
            Assert.True(Mounted());
            Assert.Equal(0, Run(_single, "stop").Code);
            Assert.Equal(7, Run(_single, "monitor", viaLink, interval: "0").Code);
        }
        finally { File.Delete(link); }
    }

    [Fact]
    public void A_health_check_that_runs_out_of_time_leaves_a_working_mount_at_0()
    {
        Assert.Equal(0, Run(_three, "start").Code);
        _three.SuspendGlusterd();                                        // bricks serve on; the CLI's questions hang
        AgentRun monitor;
        try { monitor = Run(_three, "monitor", new() { ["health_interval"] = "1s" }, timeout: TimeSpan.FromSeconds(6)); }
        finally { _three.Heal(); }
        Assert.True(monitor.Code == 0, monitor.ToString());
        Assert.True(monitor.Elapsed < TimeSpan.FromSeconds(6), monitor.ToString());
        Assert.Contains("health unknown", monitor.Stderr);
    }

    [Fact]
    public void Start_loads_fuse_when_the_kernel_does_not_list_it()
    {
        var fake = Directory.CreateTempSubdirectory("kvmocf-gm-nofuse-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(fake, "filesystems"), "nodev\tsysfs\nnodev\tproc\n");
            var modprobe = Path.Combine(fake, "modprobe");
            File.WriteAllText(modprobe, $"#!/bin/sh\necho \"$@\" >> {fake}/modprobe.log\n");
            File.SetUnixFileMode(modprobe, (UnixFileMode)0b111_101_101);
            var start = Run(_single, "start", prefix: ["unshare", "--mount", "sh", "-c", "mount --bind \"$0\" /proc/filesystems && exec \"$@\"", Path.Combine(fake, "filesystems")],
                extra: new() { ["PATH"] = $"{fake}:/usr/sbin:/usr/bin:/sbin:/bin" });
            Assert.Equal(5, start.Code);
            Assert.Contains("FUSE is not available", start.ExitReason);
            Assert.Equal("fuse\n", File.ReadAllText(Path.Combine(fake, "modprobe.log")));
            Assert.False(Mounted());
        }
        finally { Directory.Delete(fake, recursive: true); }
    }

    [Fact]
    public void A_volume_name_beginning_with_a_dash_never_reaches_the_gluster_cli()
    {
        foreach (var action in new[] { "start", "validate-all" })
        {
            var run = Run(_three, action, new() { ["device"] = $"{_three.Server(1)}:/-{_three.Volume}", ["health_interval"] = "1s" });
            Assert.Equal(6, run.Code);
            Assert.Contains("names a volume beginning with '-'", run.ExitReason);
        }
        Assert.Equal(0, Run(_three, "start").Code);                       // mounted, and then asked with the bad name:
        foreach (var action in new[] { "monitor", "stop" })                // it cannot tell which volume: 1, never a CLI call
        {
            var run = Run(_three, action, new() { ["device"] = $"{_three.Server(1)}:/-{_three.Volume}", ["health_interval"] = "1s" });
            Assert.True(run.Code == 1 && run.ExitReason!.Contains("names a volume beginning with '-'"), run.ToString());
        }
        Assert.True(Mounted());
        Assert.Equal(0, Run(_three, "stop").Code);
        Assert.False(Mounted());
    }

    [Fact]
    public void A_different_filesystem_on_the_mount_point_is_refused()
    {
        Directory.CreateDirectory(MountPoint);
        Sh.Ok("mount", "-t", "tmpfs", "tmpfs", MountPoint);
        try
        {
            Assert.Equal(2, Run(_three, "start").Code);
            Assert.Equal(1, Run(_three, "monitor").Code);
            Assert.Equal(1, Run(_three, "stop").Code);
        }
        finally { Sh.Run("umount", MountPoint); }
    }
}
