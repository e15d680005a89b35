using System.Globalization;
using KvmOcf.IntegrationTests.Harness;
using Xunit.Abstractions;

namespace KvmOcf.IntegrationTests;

/// <summary>fence_gluster against the real three-node volume of the gluster lab, with a client in its
/// own network namespace that mounts the volume and writes to it every 0.2 s (each write synced, so
/// that an error cannot hide in a cache): off cuts the client off, on gives the volume back, and both
/// work while the first server's glusterd is dead.</summary>
[Collection(GlusterCollection.Name)]
[Trait("Stack", "gluster")]
public sealed class FenceGlusterTests : IDisposable
{
    private const string Agent = "fence_gluster";
    private readonly GlusterThreeNodes _lab;
    private readonly ITestOutputHelper _output;
    private readonly string _mount = $"/mnt/kvmocf-fg-{Guid.NewGuid().ToString()[..8]}";
    private readonly string _log = Path.Combine(Path.GetTempPath(), $"kvmocf-fg-{Guid.NewGuid().ToString()[..8]}.log");
    private readonly BackgroundProcess _writer;

    public FenceGlusterTests(GlusterThreeNodes lab, ITestOutputHelper output)
    {
        (_lab, _output) = (lab, output);
        Reset();
        Sh.Ok(lab.Lab("mount", lab.Volume, _mount, lab.Client));
        // one line per write: "<epoch seconds> ok" or "<epoch seconds> FAIL <why>"; each write appends its
        // timestamp to the file on the volume, so the bricks tell which writes reached the volume. A
        // client cut off by auth.reject shuts down and unmounts: the writer then refuses to write into the
        // bare directory (qemu, holding its image open, would get errors the same way).
        _writer = new BackgroundProcess("/", "bash", "-c", """
            while :; do
              t=$(date +%s.%N)
              if ! mountpoint -q "$1"; then echo "$t FAIL not mounted"
              elif err=$(echo "$t" | timeout 3 dd of="$1/fence-writer" oflag=append conv=notrunc,fsync status=none 2>&1); then
                echo "$t ok"; else echo "$t FAIL $(echo $err | tr '\n' ' ')"; fi >> "$2"
              sleep 0.2
            done
            """, "writer", _mount, _log);
        Assert.True(Sh.Eventually(() => Writes().Count(w => w.Ok) >= 3, TimeSpan.FromSeconds(30)), "the client cannot write to the volume: " + Tail());
    }

    public void Dispose()
    {
        _writer.Dispose();
        Reset();
        Sh.Run("umount", "-l", _mount);
        foreach (var pid in FuseClients()) Sh.Run("kill", "-KILL", pid.ToString());
        try { Directory.Delete(_mount); } catch (IOException) { }
        foreach (var copy in BrickCopies()) File.Delete(copy);
        File.Delete(_log);
    }

    /// <summary>What any test may have left: a dead glusterd, a rejected address.</summary>
    private void Reset()
    {
        for (int node = 1; node <= _lab.NodeCount; node++)
            if (!_lab.GlusterdRunning(node)) _lab.RestartGlusterd(node);
            else _lab.WaitVolumeServed(node);
        _lab.Gluster("volume", "reset", _lab.Volume, "auth.reject");
    }

    private string Client => _lab.Address(100);

    /// <summary>The storage node whose glusterd the agent changes the volume through (glusterd takes
    /// volume set only on its local socket): the agent runs "on" that node.</summary>
    private int _fencer = 1;
    private string Servers => string.Join(' ', Enumerable.Range(1, _lab.NodeCount).Select(_lab.Server));

    private ToolResult Fence(string action, params (string, string)[] more)
    {
        (string, string)[] options = [("action", action), ("plug", Client), ("volumes", _lab.Volume), ("servers", Servers), ("gluster_timeout", "5"),
            ("glusterd_socket", _lab.ManagementSocket(_fencer))];
        // the agent runs where it reaches glusterd: on another "node" of the lab's network
        var r = FenceAgentRun.Stdin(Agent, [.. options, .. more], _lab.ClientPrefix, TimeSpan.FromSeconds(60));
        _output.WriteLine($"{action}: exit {r.ExitCode} in {r.Elapsed.TotalSeconds:0.0}s: {r.StandardOutput.Trim()} {r.StandardError.Trim()}");
        return r;
    }

    private static void AssertOutcome(ToolResult r, int code, string line)
    {
        Assert.True(r.ExitCode == code, $"exit {r.ExitCode}, expected {code}\n{r.StandardOutput}\n{r.StandardError}");
        Assert.Equal(line, r.StandardOutput.Trim());
    }

    private sealed record Write(double At, bool Ok, string Line);

    private List<Write> Writes()
    {
        if (!File.Exists(_log)) return [];
        using var stream = new FileStream(_log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', 3))
            .Where(f => f.Length >= 2 && double.TryParse(f[0], CultureInfo.InvariantCulture, out _))
            .Select(f => new Write(double.Parse(f[0], CultureInfo.InvariantCulture), f[1] == "ok", string.Join(' ', f)))
            .ToList();
    }

    private string Tail() => string.Join("\n", Writes().TakeLast(5).Select(w => w.Line));

    private static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    private List<int> FuseClients() =>
        Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(p => p!.All(char.IsAsciiDigit)).Select(p => int.Parse(p!))
            .Where(pid =>
            {
                try { return File.ReadAllText($"/proc/{pid}/cmdline").TrimEnd('\0').EndsWith("\0" + _mount, StringComparison.Ordinal); }
                catch (IOException) { return false; }
            }).ToList();

    /// <summary>The copies of the writer's file in the bricks of every storage node.</summary>
    private IEnumerable<string> BrickCopies() =>
        Enumerable.Range(1, _lab.NodeCount).Select(_lab.BrickDirectory).Where(Directory.Exists)
            .SelectMany(d => Directory.GetDirectories(d)).Select(b => Path.Combine(b, "fence-writer")).Where(File.Exists);

    /// <summary>The latest write that reached the volume: the newest timestamp in any brick's copy.</summary>
    private double LastWriteOnTheVolume() =>
        BrickCopies().SelectMany(File.ReadAllLines)
            .Select(l => double.TryParse(l.Trim(), CultureInfo.InvariantCulture, out var t) ? t : 0).DefaultIfEmpty(0).Max();

    /// <summary>Off: the client loses the volume — its writes fail and none reaches any brick after the
    /// fence took effect, and its FUSE client gives up (AUTH_FAILED) and unmounts. On: the node may mount
    /// the volume again and writes reach it. Prints how long after the agent started the client's last
    /// write landed.</summary>
    private void FenceAndUnfence()
    {
        AssertOutcome(Fence("status"), 0, "Status: ON");
        var fencedAt = Now();
        var off = Fence("off");
        AssertOutcome(off, 0, "Success: Powered OFF");
        AssertOutcome(Fence("status"), 2, "Status: OFF");

        Assert.True(Sh.Eventually(() => Writes().Any(w => w.At > fencedAt && !w.Ok), TimeSpan.FromSeconds(30)),
            "the fenced client still writes: " + Tail());
        var firstFailure = Writes().First(w => w.At > fencedAt && !w.Ok).At;
        Assert.True(Sh.Eventually(() => FuseClients().Count == 0, TimeSpan.FromSeconds(30)), "the fenced client's FUSE process is still there");
        Thread.Sleep(2000);
        var after = Writes().Where(w => w.At >= firstFailure).ToList();
        Assert.True(after.Count >= 5 && after.All(w => !w.Ok), "a write succeeded after the client was cut off: " + Tail());
        var landed = LastWriteOnTheVolume();
        Assert.True(landed < firstFailure, $"a write of {landed:0.000} reached the volume after the first failure at {firstFailure:0.000}");
        _output.WriteLine($"fence_gluster off: ran {off.Elapsed.TotalSeconds:0.00}s; the client's last write on the volume {landed - fencedAt:0.00}s after " +
            $"the agent started, its first failed write after {firstFailure - fencedAt:0.00}s ({after.First().Line})");

        // while fenced, the node cannot mount the volume again
        Sh.Run(_lab.Lab("mount", _lab.Volume, _mount, _lab.Client), TimeSpan.FromSeconds(60));
        Assert.True(Sh.Eventually(() => !Mounted(), TimeSpan.FromSeconds(15)), "the fenced node mounted the volume again");

        var unfencedAt = Now();
        AssertOutcome(Fence("on"), 0, "Success: Powered ON");
        AssertOutcome(Fence("status"), 0, "Status: ON");
        Sh.Run("umount", "-l", _mount);
        Sh.Ok(_lab.Lab("mount", _lab.Volume, _mount, _lab.Client), TimeSpan.FromSeconds(60));
        Assert.True(Sh.Eventually(() => Writes().Any(w => w.At > unfencedAt && w.Ok) && LastWriteOnTheVolume() > unfencedAt, TimeSpan.FromSeconds(60)),
            "the unfenced node's writes do not reach the volume: " + Tail());
        _output.WriteLine($"fence_gluster on, mounted again: first write on the volume {Writes().First(w => w.At > unfencedAt && w.Ok).At - unfencedAt:0.00}s after the agent started");
    }

    private bool Mounted() => File.ReadAllLines("/proc/self/mounts").Any(l => l.Split(' ')[1] == _mount);

    [Fact]
    public void Off_cuts_the_client_off_the_volume_and_on_gives_it_back()
    {
        var list = Fence("list");
        Assert.Equal(0, list.ExitCode);
        Assert.Contains($"{Client},{Client}", list.StandardOutput.Split('\n'));
        FenceAndUnfence();
        Assert.StartsWith("(null)", AuthReject());   // reset, not an empty list
    }

    [Fact]
    public void Fencing_works_while_the_first_servers_glusterd_is_dead()
    {
        _lab.KillGlusterd(1);
        _fencer = 2;
        FenceAndUnfence();
        var list = Fence("list-status");
        Assert.Equal(0, list.ExitCode);
        Assert.Contains($"{Client},{Client},ON", list.StandardOutput.Split('\n'));
    }

    [Fact]
    public void No_server_answering_is_a_clear_failure_and_never_off()
    {
        var status = Fence("status", ("servers", "10.92.0.251 10.92.0.252"), ("gluster_timeout", "2"),
            ("glusterd_socket", "/run/kvmocf-no-glusterd.socket"));
        FenceAgentRun.AssertCleanFailure(status, "no glusterd server answered: no glusterd socket /run/kvmocf-no-glusterd.socket; 10.92.0.251 did not answer; 10.92.0.252 did not answer");
        Assert.True(status.Elapsed < TimeSpan.FromSeconds(10), $"took {status.Elapsed.TotalSeconds:0.0}s");
        FenceAgentRun.AssertCleanFailure(Fence("status", ("volumes", "kvmocf-no-such-volume")), "kvmocf-no-such-volume");
    }

    private string AuthReject() =>
        XmlOutput.Parse(_lab.Gluster("volume", "get", _lab.Volume, "auth.reject", "--xml").StandardOutput)
            .Descendants("Opt").First(o => o.Element("Option")?.Value == "auth.reject").Element("Value")!.Value.Trim();
}
