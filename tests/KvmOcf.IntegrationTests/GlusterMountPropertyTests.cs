using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using KvmOcf.IntegrationTests.Harness;
using Xunit.Abstractions;

namespace KvmOcf.IntegrationTests;

/// <summary>Generated environments — odd and garbage parameter values, directory and device
/// spellings, options, check levels, timeouts, meta attributes, truncated values, bytes that are not
/// UTF-8 — fed to probe, monitor and stop of the staged binary while the volume is mounted. Whatever
/// they are: a probe or monitor of a directory that designates the mount never says "not running",
/// no action answers 2 or 5 (or anything but its own codes), nothing prints a stack trace, every
/// answer comes before the timeout. Stops only ever designate another, unmounted directory (or
/// are invalid), and the mount must survive all of them. The seed is printed; set
/// KVMOCF_PROPERTY_SEED to replay a run.</summary>
[Collection(GlusterCollection.Name)]
[Trait("Stack", "gluster")]
public sealed partial class GlusterMountPropertyTests(GlusterSingleNode lab, ITestOutputHelper output) : IDisposable
{
    private const int Cases = 5000;
    private readonly GlusterMountUnderTest _fs = new();
    private string MountPoint => _fs.MountPoint;
    private string Link => _fs.MountPoint + "-link";
    private string Other => _fs.MountPoint + "-other";

    public void Dispose()
    {
        File.Delete(Link);
        try { System.IO.Directory.Delete(Other); } catch (IOException) { }
        _fs.Dispose();
    }

    /// <summary>One generated run: the action, the environment (values as bytes), and whether the
    /// directory designates the mount.</summary>
    private sealed record Case(int Index, string Action, List<(string Name, byte[] Value)> Environment, bool DesignatesMount, TimeSpan Timeout)
    {
        public override string ToString() =>
            $"#{Index} {Action}: " + string.Join(' ', Environment.Select(e => $"{e.Name}={Printable(e.Value)}"));
    }

    [Fact]
    public void Generated_environments_never_make_a_mounted_volume_look_stopped()
    {
        Repo.RequireBuild();
        int seed = int.TryParse(System.Environment.GetEnvironmentVariable("KVMOCF_PROPERTY_SEED"), out var s) ? s : 20260611;
        output.WriteLine($"seed {seed} (replay: KVMOCF_PROPERTY_SEED={seed}), {Cases} cases");
        var start = _fs.Run(lab, "start");
        Assert.True(start.Code == 0, start.ToString());
        File.CreateSymbolicLink(Link, MountPoint);
        System.IO.Directory.CreateDirectory(Other);

        var random = new Random(seed);
        var codes = new SortedDictionary<string, (int Count, TimeSpan Time, string Example)>();
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Cases && failures.Count < 10; i++)
        {
            var c = Generate(random, i);
            var (code, stderr, elapsed) = Execute(c);
            var key = $"{c.Action} {code}";
            var (count, time, example) = codes.GetValueOrDefault(key);
            codes[key] = (count + 1, time + elapsed, example ?? stderr.Split('\n').LastOrDefault(l => l.StartsWith("ocf-exit-reason:")) ?? "");
            var allowed = c.Action == "stop" ? new[] { 0, 1 } : [0, 1, 7, 190];   // 2/5/6 only ever from start and validate-all
            if (!allowed.Contains(code)) failures.Add($"{c}: exit code {code}");
            if (c.DesignatesMount && code == 7) failures.Add($"{c}: 7 while mounted");
            if (StackTrace().IsMatch(stderr)) failures.Add($"{c}: stack trace on stderr: {stderr}");
            if (elapsed >= c.Timeout) failures.Add($"{c}: answered after {elapsed.TotalSeconds:0.00}s, timeout {c.Timeout.TotalSeconds}s");
            if (c.Action == "stop" && !_fs.Mounted())
            {
                failures.Add($"{c}: the mount is gone (rc={code}, {stderr.Trim()})");
                break;
            }
        }
        output.WriteLine($"{Cases} cases in {clock.Elapsed.TotalSeconds:0.0} s; action exit-code: count (mean time) first reason");
        foreach (var (key, (count, time, example)) in codes) output.WriteLine($"  {key}: {count} ({time.TotalMilliseconds / count:0.0} ms) {example}");
        Assert.True(failures.Count == 0, $"seed {seed}:\n" + string.Join('\n', failures));
        Assert.Equal(0, _fs.Run(lab, "monitor").Code);
    }

    [GeneratedRegex(@"(?m)^\s+at \S+\(|Unhandled exception|^\s*---> ")]
    private static partial Regex StackTrace();

    // ---- generation ----------------------------------------------------------------------------

    private Case Generate(Random r, int index)
    {
        var action = Pick(r, "probe", "monitor", "stop");
        while (true)
        {
            var env = new List<(string Name, byte[] Value)>();
            // each parameter: present or not; when present, now and then a value that is wrong
            void Add(double present, string name, string[] valid, string[] invalid)
            {
                if (r.NextDouble() < present) env.Add((name, Bytes(r.NextDouble() < 0.04 && invalid.Length > 0 ? Pick(r, invalid) : Pick(r, valid))));
            }
            if (r.NextDouble() < 0.98) env.Add(("OCF_RESKEY_directory", DirectoryValue(r)));
            if (r.NextDouble() < 0.98) env.Add(("OCF_RESKEY_device", Bytes(Device(r))));
            Add(0.3, "OCF_RESKEY_options", ["log-level=WARNING", "_netdev", "ro,noatime", "a=b,c", ""], ["x y", "a,,b", "'q'", "a\\b"]);
            Add(0.3, "OCF_RESKEY_backup_volfile_servers", [lab.Server(1), "127.0.0.1:localhost", ""], ["-bad", "a_b", "[::1]"]);
            Add(0.2, "OCF_RESKEY_health_servers", [lab.Server(1), "127.0.0.1", ""], ["-x", "a;b"]);
            // a health check asks glusterd (≈ 0.1 s); with these intervals most monitors answer from the cached health
            Add(0.5, "OCF_RESKEY_health_interval", ["0", "30", "1min", ""], ["2d", "-1", "abc", "10x"]);
            Add(0.3, "OCF_RESKEY_force_unmount", ["true", "safe", "false", ""], ["yes", "TRUE"]);
            Add(0.3, "OCF_RESKEY_fast_stop", ["true", "false", "1", "0", "yes", "no"], ["maybe", "2"]);
            Add(0.2, "OCF_RESKEY_statusfile_prefix", [".Filesystem_status/", "s-", "a/b/"], ["../x", "/abs"]);
            Add(0.4, "OCF_CHECK_LEVEL", ["0", "10", "20", "5", " 10", ""], ["-1", "x", "1e3"]);
            Add(0.1, "OCF_RESKEY_OCF_CHECK_LEVEL", ["10", "20"], ["x"]);
            Add(0.2, "OCF_RESOURCE_INSTANCE", ["fs", "fs:1", "a/b", "", "ünïcode"], []);
            Add(0.2, "OCF_RESKEY_CRM_meta_clone_max", ["2", "x", "-1"], []);
            Add(0.1, "OCF_RESKEY_CRM_meta_on_node", ["n1", "", "a b"], []);
            Add(0.1, "OCF_RESKEY_unknown_parameter", ["1", ""], []);
            Add(1, "OCF_RESKEY_CRM_meta_interval", action == "monitor" ? ["20000", "10s", "1"] : ["0", "", "0ms"], ["x", "-5"]);
            var (timeoutText, timeout) = MetaTimeout(r, action);
            if (timeoutText is not null) env.Add(("OCF_RESKEY_CRM_meta_timeout", Bytes(timeoutText)));
            // damage: truncate a value, or put a byte in it that is not UTF-8
            if (r.NextDouble() < 0.05)
            {
                int at = r.Next(env.Count);
                var (name, value) = env[at];
                env[at] = (name, r.Next(2) == 0 ? value[..r.Next(value.Length + 1)] : [.. value, (byte)r.Next(0x80, 0x100)]);
            }
            bool designates = env.FirstOrDefault(e => e.Name == "OCF_RESKEY_directory").Value is { } d && Designates(d);
            if (action == "stop" && designates) continue;                     // never unmount the real one
            return new Case(index, action, env, designates, timeout);
        }
    }

    private byte[] DirectoryValue(Random r)
    {
        var name = Path.GetFileName(MountPoint);
        return r.Next(8) switch
        {
            < 5 => Bytes(Pick(r, MountPoint, MountPoint + "/", $"/mnt//{name}", $"/mnt/./{name}", $"//mnt/{name}//", $"/mnt/{name}/.", Link, Link + "/")),
            < 7 => Bytes(Pick(r, Other, Other + "//", MountPoint + "-nothing", MountPoint + "/sub", "/mnt/kvmocf-never-there", "/srv/a b/c")),
            _ => r.Next(4) == 0 ? RandomBytes(r)
                : Bytes(Pick(r, "", "relative", "/", "//", "/..", MountPoint + "/..", $"{MountPoint}/x/..", "/var", "/var/lib/", "/usr/local/..",
                    "/tmp", "/mnt/a\nb", new string('x', 5000), "/" + new string('y', 300))),
        };
    }

    /// <summary>The test's own reading of a directory value: does it name the mounted directory, in
    /// any spelling the agent accepts, or the symlink to it?</summary>
    private bool Designates(byte[] value)
    {
        string text;
        try { text = new UTF8Encoding(false, true).GetString(value); } catch (DecoderFallbackException) { return false; }
        var parts = text.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".").ToList();
        var canonical = "/" + string.Join('/', parts);
        return text.StartsWith('/') && !parts.Contains("..") && (canonical == MountPoint || canonical == Link);
    }

    private string Device(Random r) => r.Next(10) switch
    {
        < 7 => Pick(r, lab.Device, $"{lab.Server(1)}:{lab.Volume}", $"{lab.Server(1)}:/{lab.Volume}/", $"127.0.0.1:/{lab.Volume}", $"[::1]:/{lab.Volume}"),
        < 9 => Pick(r, $"{lab.Server(1)}:/other", $"{lab.Server(1)}:/{lab.Volume}/sub"),      // another volume or view: never "not running"
        _ => Pick(r, "", "gl1", "gl1:/", ":/x", $"{lab.Server(1)}:/-{lab.Volume}", $"-o:/{lab.Volume}", $"{lab.Server(1)}:/{lab.Volume}/../x", "a b:/c"),
    };

    /// <summary>The meta timeout as given (null: unset) and the timeout it means for the deadline
    /// check (garbage is refused at once, within the declared default).</summary>
    private static (string? Text, TimeSpan Timeout) MetaTimeout(Random r, string action)
    {
        var declared = TimeSpan.FromSeconds(action == "stop" ? 60 : 20);
        switch (r.Next(6))
        {
            case 0: return (null, declared);
            case 1: return ("0", declared);
            case 2: return ("20s", TimeSpan.FromSeconds(20));
            case 3: return (Pick(r, "abc", "-1", "1.5"), declared);
            default:
                var ms = Pick(r, 1000, 2000, 5000, 20000);
                return (ms.ToString(), TimeSpan.FromMilliseconds(ms));
        }
    }

    private static T Pick<T>(Random r, params T[] choices) => choices[r.Next(choices.Length)];
    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
    private static byte[] RandomBytes(Random r) => Enumerable.Range(0, r.Next(1, 40)).Select(_ => (byte)r.Next(1, 256)).ToArray();

    private static string Printable(byte[] value) =>
        string.Concat(value.Select(b => b is >= 0x21 and < 0x7f && b != '\\' ? ((char)b).ToString() : $"\\x{b:x2}"));

    // ---- running --------------------------------------------------------------------------------

    /// <summary>Runs the case: the staged binary with exactly this environment (through bash's
    /// $'…' quoting when a value is not UTF-8, which no .NET string can carry), from the lab's
    /// client network namespace.</summary>
    private (int Code, string Stderr, TimeSpan Elapsed) Execute(Case c)
    {
        var binary = _fs.Binary;
        var action = c.Action == "probe" ? "monitor" : c.Action;
        var basics = new (string, byte[])[] { ("PATH", Bytes("/usr/sbin:/usr/bin:/sbin:/bin")), ("HA_RSCTMP", Bytes(_fs.RscTmp)), ("OCF_ROOT", Bytes("/usr/lib/ocf")) };
        var all = basics.Concat(c.Environment).ToList();
        var strict = new UTF8Encoding(false, true);
        bool utf8 = all.All(e => { try { strict.GetString(e.Item2); return true; } catch (DecoderFallbackException) { return false; } });
        var command = utf8
            ? Cli.Wrap(lab.ClientPrefix[0]).WithArguments([.. lab.ClientPrefix[1..], "env", "-i", .. all.Select(e => $"{e.Item1}={Encoding.UTF8.GetString(e.Item2)}"), binary, action])
            : Cli.Wrap(lab.ClientPrefix[0]).WithArguments([.. lab.ClientPrefix[1..], "bash", "-c",
                "exec env -i " + string.Join(' ', all.Select(e => $"{e.Item1}={Quote(e.Item2)}")) + $" {binary} {action}"]);
        var result = Sh.Run(command, c.Timeout + TimeSpan.FromSeconds(30));
        return (result.ExitCode, result.StandardError, result.Elapsed);
    }

    private static string Quote(byte[] value) =>
        "$'" + string.Concat(value.Select(b => b is >= 0x20 and < 0x7f && b != '\'' && b != '\\' ? ((char)b).ToString() : $"\\x{b:x2}")) + "'";
}
