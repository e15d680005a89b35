using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>ocf-tester (resource-agents) against the installed test agent: every behavioural
/// check passes. Its one failing check is the DTD lint, which knows only OCF 1.0: it rejects
/// the 1.1 constructs (unique-group, reloadable, deprecated, select with options, the
/// reload-agent action) that both 1.1 schemas accept.</summary>
public class OcfTesterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmocf-ocft-").FullName;

    public OcfTesterTests() => Packages.Ensure("resource-agents", "libxml2-utils");
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Passes_every_behavioural_check()
    {
        var agent = Installed.TestAgent();
        var run = OcfTester.Run(agent, "ocft1", [$"state={_dir}/state"], TimeSpan.FromMinutes(3));
        var failures = OcfTester.Failures(run);

        Assert.Single(failures);
        Assert.Matches($@"^\* rc=\d+: {OcfTester.DtdCheck}$", failures[0]);
        Assert.Contains("Tests failed: " + agent + " failed 1 tests", run.StandardError);
        Assert.Contains("Testing: demotion of started resource", run.StandardOutput);
        Assert.Contains("Checking for migrate_to action", run.StandardOutput);
    }

    [Fact]
    public void The_dtd_lint_flags_only_ocf_1_1_constructs()
    {
        var errors = Sh.Bash("cd /usr/share/resource-agents && \"$1\" meta-data | xmllint --noout --valid - 2>&1 | grep 'validity error'", Repo.TestAgentBinary)
            .StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(errors);
        string[] ocf11 = ["unique-group", "reloadable", "deprecated", "replaced-with", "desc", "select", "option",
            "expecting (longdesc+ , shortdesc+ , content)", "Element content was declared EMPTY", "reload-agent"];
        Assert.All(errors, e => Assert.Contains(ocf11, c => e.Contains(c)));
    }
}
