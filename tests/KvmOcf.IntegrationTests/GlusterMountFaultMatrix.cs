using KvmOcf.IntegrationTests.Harness;
using Xunit.Abstractions;

namespace KvmOcf.IntegrationTests;

/// <summary>The standing fault matrix of ocf:kvmocf:GlusterMount on the real stack: each row a
/// fault or an odd configuration, an action, the exit codes that are safe there, what the agent
/// answered and how long it took against the operation's timeout. Every row runs (failures are
/// collected, not thrown at the first); the table goes to the test output and to
/// build/test-results/fault-matrix-GlusterMount.md, as README shows it.</summary>
[Collection(GlusterCollection.Name)]
[Trait("Stack", "gluster")]
public sealed class GlusterMountFaultMatrix(GlusterSingleNode single, GlusterThreeNodes three, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan MonitorTimeout = TimeSpan.FromSeconds(10), StartStopTimeout = TimeSpan.FromSeconds(20);
    private readonly GlusterMountUnderTest _fs = new();
    private readonly FaultMatrix _matrix = new("GlusterMount", output);

    public void Dispose()
    {
        _fs.Dispose();
        three.Heal();
    }

    [Fact]
    public void Every_fault_gets_a_safe_answer_before_the_timeout()
    {
        Repo.RequireBuild();
        var health = new Dictionary<string, string> { ["health_interval"] = "1s" };

        Row("nothing mounted", "probe", [7], Probe());
        Row("nothing mounted", "stop", [0], Stop());
        Row("healthy", "start", [0], Start());
        Row("healthy", "probe", [0], Probe());
        Row("healthy", "monitor depth 20", [0], Monitor(new() { ["OCF_CHECK_LEVEL"] = "20" }));

        three.KillBricks(2);
        Sh.Eventually(() => three.OnlineBricks() == 2, TimeSpan.FromSeconds(10));
        Row("1 of 3 bricks killed", "monitor", [0], Monitor());
        Row("1 of 3 bricks killed", "monitor, health check", [190], Monitor(health));
        three.Heal();

        three.KillAllBricks();
        Row("all bricks killed", "monitor", [1], Monitor());
        Row("all bricks killed", "probe", [1], Probe());
        Row("all bricks killed", "stop", [0], Stop(), unmounted: true);
        three.Heal();

        Row("healthy", "start", [0], Start());
        three.SuspendAll();
        Row("all nodes hung (SIGSTOP)", "monitor", [1], Monitor(timeout: TimeSpan.FromSeconds(4)));
        Row("all nodes hung (SIGSTOP)", "probe", [1], Probe(timeout: TimeSpan.FromSeconds(4)));
        Row("all nodes hung (SIGSTOP)", "stop", [0, 1], Stop());
        three.Heal();

        Row("healthy", "start", [0], Start());
        _fs.KillFuseClients();
        Row("FUSE client killed", "monitor", [1], Monitor());
        Row("FUSE client killed", "probe", [1], Probe());
        Row("FUSE client killed", "start", [0], Start());
        Row("FUSE client killed, remounted", "monitor", [0], Monitor());

        three.SuspendGlusterd();
        Row("glusterd hung (SIGSTOP)", "monitor, health check", [0], Monitor(health, timeout: TimeSpan.FromSeconds(6)));
        three.Heal();
        three.StopGlusterd();
        try
        {
            Row("glusterd down", "monitor, health check", [0], Monitor(health));
            Row("glusterd down", "stop", [0], Stop(), unmounted: true);
            Row("glusterd down", "start", [1], Start(timeout: TimeSpan.FromSeconds(15)), unmounted: true);
        }
        finally { three.StartGlusterd(); }

        Row("healthy", "start", [0], Start());
        var held = Path.Combine(_fs.MountPoint, "held");
        File.WriteAllText(held, "x");
        var slave = _fs.Background("/", "unshare", "--mount", "--propagation", "slave", "sh", "-c", $"exec 3<{held}; exec sleep 300");
        var privateCopy = _fs.Background("/", "unshare", "--mount", "--propagation", "private", "sh", "-c", $"exec 3<{held}; exec sleep 300");
        GlusterMountUnderTest.Settled(slave, privateCopy);
        var stop = Stop();
        Row("holders in other mount namespaces", "stop", [0], stop, unmounted: true, also: (slave.WaitForExit(5000) && privateCopy.WaitForExit(5000), "the holders still run"));

        Row("healthy", "start", [0], Start());
        Row("holder is init of a PID namespace", "stop", [1], Run("stop", StartStopTimeout, prefix:
            ["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", "exec 3<\"$0\"; \"$@\" 3<&-", held]), mounted: true);
        var nested = Directory.CreateDirectory(Path.Combine(_fs.MountPoint, "nested")).FullName;
        Sh.Ok("mount", "-t", "tmpfs", "nested", nested);
        Row("foreign mount nested below", "stop", [1], Stop(), mounted: true);
        Sh.Run("umount", nested);                                  // (an agent that detached it lazily took it along)
        Row("healthy", "stop", [0], Stop(), unmounted: true);

        Directory.CreateDirectory(_fs.MountPoint);
        Sh.Ok("mount", "-t", "tmpfs", "foreign", _fs.MountPoint);
        Row("tmpfs at the directory", "start", [2], Start());
        Row("tmpfs at the directory", "probe", [1], Probe());
        Row("tmpfs at the directory", "stop", [1], Stop(), mounted: true);
        Sh.Run("umount", _fs.MountPoint);

        var link = _fs.MountPoint + "-link";
        File.CreateSymbolicLink(link, _fs.MountPoint);
        try
        {
            var at = (string directory) => new Dictionary<string, string> { ["directory"] = directory };
            Row("directory /mnt//x/", "start", [0], Start(at($"/mnt//{Path.GetFileName(_fs.MountPoint)}/")));
            Row("directory /mnt/./x", "probe", [0], Probe(at($"/mnt/./{Path.GetFileName(_fs.MountPoint)}")));
            Row("directory through a symlink, target mounted", "probe", [1], Probe(at(link)));
            Row("directory through a symlink, target mounted", "stop", [1], Stop(at(link)), mounted: true);
            Row("directory x/sub/..", "probe", [1], Probe(at($"{_fs.MountPoint}/sub/..")));
            Row("directory /mnt//x/", "stop", [0], Stop(at($"/mnt//{Path.GetFileName(_fs.MountPoint)}/")), unmounted: true);
            Row("directory through a symlink", "start", [6], Start(at(link)), unmounted: true);
        }
        finally { File.Delete(link); }
        Row("directory holding a brick", "validate-all depth 10",
            [6], Run("validate-all", StartStopTimeout, new() { ["directory"] = single.BrickDirectory(1), ["OCF_CHECK_LEVEL"] = "10" }, lab: single));
        Row("directory holding HA_RSCTMP", "start", [6], Start(new() { ["HA_RSCTMP"] = _fs.MountPoint + "/state" }));
        Row("directory holding HA_RSCTMP (nothing mounted)", "probe", [7], Probe(new() { ["HA_RSCTMP"] = _fs.MountPoint + "/state" }));
        Row("volume name beginning with '-'", "start", [6], Start(new() { ["device"] = $"{three.Server(1)}:/-{three.Volume}" }));

        _matrix.Verify();
    }

    /// <summary>An action's answer and the timeout it ran under.</summary>
    private sealed record Answer(AgentRun Run, TimeSpan Timeout);

    private Answer Run(string action, TimeSpan timeout, Dictionary<string, string>? more = null, string interval = "20000",
        IEnumerable<string>? prefix = null, GlusterLab? lab = null) =>
        new(_fs.Run(lab ?? three, action, more, interval, timeout, prefix), timeout);

    private Answer Start(Dictionary<string, string>? more = null, TimeSpan? timeout = null) => Run("start", timeout ?? StartStopTimeout, more);
    private Answer Stop(Dictionary<string, string>? more = null) => Run("stop", StartStopTimeout, more);
    private Answer Monitor(Dictionary<string, string>? more = null, TimeSpan? timeout = null) => Run("monitor", timeout ?? MonitorTimeout, more);
    private Answer Probe(Dictionary<string, string>? more = null, TimeSpan? timeout = null) => Run("monitor", timeout ?? MonitorTimeout, more, interval: "0");

    /// <summary>Records a row: the code must be one of <paramref name="expected"/>, the answer must
    /// come before the timeout, and (where given) the mount must be there or gone afterwards and
    /// <paramref name="also"/> must hold.</summary>
    private void Row(string fault, string action, int[] expected, Answer answer, bool mounted = false, bool unmounted = false,
        (bool Holds, string Otherwise)? also = null)
    {
        var after = new List<(bool Holds, string Otherwise)>();
        if (mounted) after.Add((_fs.Mounted(), "the mount is gone"));
        if (unmounted) after.Add((GlusterMountUnderTest.MountsOf(three) == 0, "still mounted"));
        if (also is { } a) after.Add(a);
        _matrix.Row(fault, action, answer.Run, answer.Timeout, expected, [.. after]);
    }
}
