using KvmOcf.Fence;

namespace KvmOcf.Tests;

/// <summary>What pacemaker-fenced writes to an agent without plugs (one device per host, like
/// fence_bmc): the target as <c>port</c> (pcmk_host_argument defaults to port) and <c>nodename</c>,
/// neither of which is a mistake of the admin's to warn about.</summary>
public class FenceHostArgumentTests
{
    private sealed class OneHost : FenceAgent
    {
        public override string Name => "fence_onehost";
        public override string ShortDescription => "One host";
        public override string LongDescription => "A device that powers one host.";
        public override IReadOnlyList<FenceOption> Options => [.. StandardOptions.Common, StandardOptions.Ip];
        public override PowerState Status(FenceContext ctx, string plug) => PowerState.On;
        public override void SetPower(FenceContext ctx, string plug, bool on) { }
    }

    [Theory]
    [InlineData("action=status\nip=bmc1\nport=n2\nnodename=n2\n")]          // pacemaker 2.1 (st_actions.c: "port" when the agent has none)
    [InlineData("action=status\nip=bmc1\nplug=n2\n")]
    public void The_target_pacemaker_passes_to_a_device_without_plugs_is_not_warned_about(string stdin)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(0, FenceRuntime.Run(new OneHost(), [], stdin, stdout, stderr));
        Assert.Contains("Status: ON", stdout.ToString());
        Assert.DoesNotContain("WARNING", stderr.ToString());
    }

    [Fact]
    public void Other_unknown_names_still_are()
    {
        var stderr = new StringWriter();
        Assert.Equal(0, FenceRuntime.Run(new OneHost(), [], "action=status\nip=bmc1\nport=n2\nipaddress=x\n", new StringWriter(), stderr));
        Assert.Contains("ignoring unknown option 'ipaddress'", stderr.ToString());
    }
}
