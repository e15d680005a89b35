using System.Globalization;
using System.Text.RegularExpressions;
using KvmOcf.IntegrationTests.Harness;
using Xunit.Abstractions;

namespace KvmOcf.IntegrationTests;

/// <summary>README's first command: tests/lab/sandbox brings up a small cluster in namespaces (two
/// hypervisor nodes, a replica-3 GlusterFS volume mounted by an ocf:kvmocf:GlusterMount clone, a guest
/// vm1 managed by ocf:kvmocf:VirtualDomain with its disk on the volume, fencing through fence_bmc and
/// fence_gluster), then its scenarios run as a person would run them — migrate, failover, storage — and
/// a second invocation tears it all down. The sandbox has names of its own (namespaces kvmsbx-* and
/// ksg-*, 10.76.0.0/24 and 10.94.0.0/24), so it never meets the other labs.</summary>
[Collection(SandboxCollection.Name)]
[Trait("Stack", "sandbox")]
public sealed class SandboxTests(ITestOutputHelper output)
{
    private static double Seconds(string text, string pattern) =>
        double.Parse(Regex.Match(text, pattern).Groups[1].Value, CultureInfo.InvariantCulture);

    /// <summary>Every uptime the guest printed on its serial console, in order.</summary>
    private static List<double> Uptimes(string console) =>
        [.. File.ReadAllText(console).Split('\n').Select(l => l.Trim())
            .Where(l => l.StartsWith("GUEST: UPTIME ", StringComparison.Ordinal))
            .Select(l => double.Parse(l["GUEST: UPTIME ".Length..], CultureInfo.InvariantCulture))];

    private ToolResult Scenario(Command sandbox, string name)
    {
        var r = Sh.Run(sandbox.WithArguments([name]), TimeSpan.FromMinutes(3));
        output.WriteLine($"$ sandbox {name}  (exit {r.ExitCode}, {r.Elapsed.TotalSeconds:0.0} s)\n{r.StandardOutput}{r.StandardError}");
        Assert.True(r.Succeeded, r.StandardOutput + r.StandardError);
        return r;
    }

    [Fact]
    public void The_sandbox_cluster_comes_up_migrates_fails_over_rides_out_storage_loss_and_goes_away()
    {
        var state = Directory.CreateTempSubdirectory("kvmocf-sandbox-").FullName;
        Directory.Delete(state);
        var sandbox = Cli.Wrap(Path.Combine(Repo.Root, "tests/lab/sandbox")).WithEnvironmentVariables(e => e.Set("KVMOCF_SANDBOX_DIR", state));
        var console = Path.Combine(state, "vm1.console");
        ToolResult down;
        try
        {
            var up = Sh.Run(sandbox, TimeSpan.FromMinutes(10));
            output.WriteLine($"$ sandbox  (exit {up.ExitCode})\n{up.StandardOutput}{up.StandardError}");
            Assert.True(up.Succeeded, up.StandardOutput + up.StandardError);
            Assert.InRange(Seconds(up.StandardOutput, @"up in ([0-9.]+) s"), 0, 60);
            Assert.Matches(@"vm1\s+\(ocf:kvmocf:VirtualDomain\):\s+Started n[12]", up.StandardOutput);
            Assert.Matches(@"Clone Set: vmstore-clone \[vmstore\]:\s+\* Started: \[ n1 n2 \]", up.StandardOutput);
            Assert.Matches(@"fence-bmc-n1\s+\(stonith:fence_bmc\):\s+Started n2", up.StandardOutput);
            Assert.Matches(@"fence-bmc-n2\s+\(stonith:fence_bmc\):\s+Started n1", up.StandardOutput);
            Assert.Contains("fence-gluster", up.StandardOutput);
            Assert.Contains("vm1", Sh.Run(sandbox.WithArguments(["exec", "virsh", "-c", "qemu:///system", "list", "--name"])).StandardOutput +
                                   Sh.Run(sandbox.WithArguments(["exec-on", "n2", "virsh", "-c", "qemu:///system", "list", "--name"])).StandardOutput);

            // there and back, live: the guest's uptime never goes back
            var migrate = Scenario(sandbox, "migrate").StandardOutput;
            Assert.Equal(2, Regex.Matches(migrate, "it kept counting, no reboot").Count);
            Assert.Equal(2, Regex.Matches(migrate, @"pacemaker: vm1 started on n[12]").Count);
            Assert.Matches(@"disk writes meanwhile: [1-9][0-9]* ok, 0 failed", migrate);
            var uptimes = Uptimes(console);
            Assert.True(uptimes.Count > 10);
            Assert.True(uptimes.Zip(uptimes.Skip(1)).All(p => p.Second >= p.First), "the guest's uptime went back: it rebooted");

            // power loss: fenced through the victim's BMC, the guest boots on the survivor, the victim comes back
            var failover = Scenario(sandbox, "failover").StandardOutput;
            var victim = Regex.Match(failover, @"vm1 runs on (n[12]), guest uptime").Groups[1].Value;
            var survivor = victim == "n1" ? "n2" : "n1";
            Assert.Matches($@"fenced: reboot of {victim} successful: delegate={survivor}", failover);
            Assert.Contains($"pacemaker: vm1 started on {survivor}", failover);
            Assert.Contains($"guest booted on {survivor}: service back", failover);
            Assert.Contains($"{victim} is back online", failover);
            Assert.Matches($@"BMC of {victim}: chassis set power 0", failover);

            // one storage node lost: the guest writes on; quorum lost: its writes fail; storage back: it writes
            // again (after a restart of vm1 where QEMU, once a flush failed, fails every flush)
            var storage = Scenario(sandbox, "storage").StandardOutput;
            Assert.Matches(@"after 12 s: vm1 on n[12], uptime [0-9.]+s; disk writes: [1-9][0-9]* ok, 0 failed", storage);
            Assert.Matches(@"disk writes since quorum loss: [0-9]+ ok, [1-9][0-9]* failed", storage);   // no write without quorum
            // the mount's depth-20 monitor fails without quorum: pacemaker stops the guest, not leaving it on a failing disk
            Assert.Contains("pacemaker failed actions: vmstore_monitor_10000 on", storage);
            Assert.Contains("vm1 runs on: nowhere", storage);
            Assert.Contains("the guest's disk writes succeed again", storage);
            Assert.Matches(@"vm1 runs on n[12], guest uptime [0-9.]+s \(was", storage);
        }
        finally
        {
            down = Sh.Run(sandbox, TimeSpan.FromMinutes(2));
            output.WriteLine($"$ sandbox  (teardown, exit {down.ExitCode})\n{down.StandardOutput}{down.StandardError}");
        }
        Assert.True(down.Succeeded, down.StandardError);
        Assert.InRange(Seconds(down.StandardError, @"down in ([0-9.]+) s"), 0, 15);
        Assert.False(Directory.Exists(state));
        Assert.DoesNotMatch(@"\b(kvmsbx|ksg)-", Sh.Run("ip", "netns", "list").StandardOutput);
        Assert.False(Sh.Run("pgrep", "-f", "guest=vm1,").Succeeded, "the sandbox guest survived the teardown");
    }
}

[CollectionDefinition(Name)]
public sealed class SandboxCollection
{
    public const string Name = "sandbox";
}
