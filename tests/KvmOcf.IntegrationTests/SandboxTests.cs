using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>README's main command: tests/lab/sandbox brings up libvirtd, a single-node pacemaker and a
/// test guest managed by ocf:kvmocf:VirtualDomain, shows crm_mon -1, and a second invocation tears
/// it all down.</summary>
[Collection(SandboxCollection.Name)]
[Trait("Stack", "sandbox")]
public sealed class SandboxTests
{
    [Fact]
    public void The_sandbox_comes_up_with_the_guest_started_and_goes_away_again()
    {
        var state = Directory.CreateTempSubdirectory("kvmocf-sandbox-").FullName;
        Directory.Delete(state);
        var sandbox = Cli.Wrap(Path.Combine(Repo.Root, "tests/lab/sandbox")).WithEnvironmentVariables(e => e.Set("KVMOCF_SANDBOX_DIR", state));
        var up = Sh.Run(sandbox, TimeSpan.FromMinutes(10));
        try
        {
            Assert.True(up.Succeeded, up.StandardError);
            Assert.Matches(@"vm1\s+\(ocf:kvmocf:VirtualDomain\):\s+Started n1", up.StandardOutput);
            Assert.Contains("vm1", Sh.Run(sandbox.WithArguments(["exec", "virsh", "-c", "qemu:///system", "list", "--name"])).StandardOutput);
        }
        finally
        {
            var down = Sh.Run(sandbox, TimeSpan.FromMinutes(5));
            Assert.True(down.Succeeded, down.StandardError);
        }
        Assert.False(Directory.Exists(state));
        Assert.DoesNotContain("kvmlab-n1", Sh.Run("ip", "netns", "list").StandardOutput);
        Assert.False(Sh.Run("pgrep", "-f", "guest=vm1,").Succeeded, "the sandbox guest survived the teardown");
    }
}

[CollectionDefinition(Name)]
public sealed class SandboxCollection
{
    public const string Name = "sandbox";
}
