using System.Xml.Linq;
using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>The test agent under a real corosync + pacemaker, configured through pcs and crmsh.</summary>
[Collection(PacemakerCollection.Name)]
[Trait("Stack", "pacemaker")]
public sealed class PacemakerTests : IDisposable
{
    private readonly PacemakerCluster _cluster;
    private readonly string _dir;
    private readonly List<string> _resources = [];

    public PacemakerTests(PacemakerCluster cluster)
    {
        _cluster = cluster;
        Installed.TestAgent();
        _dir = Directory.CreateDirectory($"/run/kvmocf-tests/{Guid.NewGuid():N}").FullName;
    }

    public void Dispose()
    {
        foreach (var r in _resources) Sh.Run("pcs", "resource", "delete", r, "--force");
        _cluster.Settle();
        Directory.Delete(_dir, recursive: true);
    }

    private string Create(string id, params string[] options)
    {
        _resources.Add(id);
        var r = Sh.Run("pcs", ["resource", "create", id, "ocf:kvmocf:TestAgent", $"state={_dir}/{id}", .. options]);
        Assert.True(r.Succeeded, r.StandardError);
        Assert.DoesNotContain("Warning", r.StandardError + r.StandardOutput, StringComparison.OrdinalIgnoreCase);
        return id;
    }

    [Fact]
    public void Pcs_describe_shows_the_agent_without_warnings()
    {
        var r = Sh.Run("pcs", "resource", "describe", "ocf:kvmocf:TestAgent");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.StandardError);
        Assert.Contains("State-file test agent for KvmOcf's runtime", r.StandardOutput);
        Assert.Contains("state (required) (unique group: state)", r.StandardOutput);
        var words = string.Join(' ', r.StandardOutput.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("monitor: interval=10s timeout=20s", words);
    }

    [Fact]
    public void Pcs_create_without_force_starts_the_resource()
    {
        var id = Create("t1", "op", "monitor", "interval=5s");
        Assert.True(_cluster.WaitForRole(id, "Started"));
        Assert.Equal(id, File.ReadAllLines($"{_dir}/{id}")[0]);   // the agent really ran, as this instance
    }

    [Fact]
    public void Pcs_refuses_an_unknown_option_and_a_missing_required_one()
    {
        var unknown = Sh.Run("pcs", "resource", "create", "bad1", "ocf:kvmocf:TestAgent", $"state={_dir}/bad1", "colour=blue");
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("colour", unknown.StandardError);
        var missing = Sh.Run("pcs", "resource", "create", "bad2", "ocf:kvmocf:TestAgent");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("state", missing.StandardError);
    }

    [Fact]
    public void Crm_configure_primitive_starts_the_resource()
    {
        _resources.Add("t2");
        var r = Sh.Run("crm", "configure", "primitive", "t2", "ocf:kvmocf:TestAgent", "params", $"state={_dir}/t2",
            "op", "monitor", "interval=7s", "timeout=20s");
        Assert.True(r.Succeeded, r.StandardError + r.StandardOutput);
        Assert.DoesNotContain("ERROR", r.StandardError + r.StandardOutput);
        Assert.True(_cluster.WaitForRole("t2", "Started"));
    }

    [Fact]
    public void Crm_resource_validate_reports_the_agents_verdict_and_reason()
    {
        var good = XmlOutput.Parse(Sh.Run("crm_resource", "--validate", "--class", "ocf", "--provider", "kvmocf", "--agent", "TestAgent",
            "--option", $"state={_dir}/v", "--output-as=xml").StandardOutput);
        Assert.Equal("0", (string?)good.Descendants("agent-status").Single().Attribute("code"));

        var bad = Sh.Run("crm_resource", "--validate", "--class", "ocf", "--provider", "kvmocf", "--agent", "TestAgent",
            "--option", "state=relative/path", "--output-as=xml");
        var status = XmlOutput.Parse(bad.StandardOutput).Descendants("agent-status").Single();
        Assert.Equal("6", (string?)status.Attribute("code"));
        Assert.Contains("parameter 'state': 'relative/path' is not an absolute path", bad.StandardOutput);
    }

    [Fact]
    public void Crm_resource_force_check_runs_the_monitor()
    {
        var id = Create("t3");
        Assert.True(_cluster.WaitForRole(id, "Started"));
        Assert.Equal(0, Sh.Run("crm_resource", "-r", id, "--force-check").ExitCode);
        File.Delete($"{_dir}/{id}");
        var stopped = Sh.Run("crm_resource", "-r", id, "--force-check");
        Assert.Equal(7, stopped.ExitCode);     // crm_resource passes the agent's "not running" through
    }

    [Fact]
    public void A_failing_monitor_shows_its_exit_reason_in_crm_mon()
    {
        var fault = $"{_dir}/fault";
        var id = Create("t4", $"fault_file={fault}", "op", "monitor", "interval=2s", "meta", "migration-threshold=100");
        Assert.True(_cluster.WaitForRole(id, "Started"));

        File.WriteAllText(fault, "disk on fire\nsecond line is ignored\n");
        XElement? failure = null;
        Assert.True(Sh.Eventually(() => (failure = _cluster.CrmMon()?.Descendants("failure").FirstOrDefault(f => ((string?)f.Attribute("op_key"))?.StartsWith(id + "_monitor") == true)) is not null,
            TimeSpan.FromSeconds(60)));
        Assert.Equal("disk on fire", (string?)failure!.Attribute("exitreason"));
        Assert.Equal("1", (string?)failure.Attribute("exitcode"));
        File.Delete(fault);
        Sh.Run("crm_resource", "--cleanup", "-r", id);
    }

    [Fact]
    public void A_promotable_clone_is_promoted_by_the_score_the_agent_sets()
    {
        var id = Create("p1", "promotion_score=42", "promotable", "notify=true");
        Assert.True(_cluster.WaitForRole(id, "Promoted", TimeSpan.FromSeconds(90)));
        var attribute = _cluster.CrmMon()!.Descendants("attribute").FirstOrDefault(a => (string?)a.Attribute("name") == "master-p1");
        Assert.Equal("42", (string?)attribute?.Attribute("value"));
        Assert.Equal("promoted", File.ReadAllLines($"{_dir}/p1")[1]);
    }

    [Fact]
    public void Utilization_is_written_once_not_on_every_monitor()
    {
        var id = Create("t5", "utilization=5", "op", "monitor", "interval=1s");
        Assert.True(Sh.Eventually(() => _cluster.Utilization(id, "test_units") == "5", TimeSpan.FromSeconds(60)));
        _cluster.Settle();
        var epoch = _cluster.Epoch();
        Thread.Sleep(TimeSpan.FromSeconds(5));   // five more monitors
        Assert.Equal(epoch, _cluster.Epoch());
        Assert.Equal("5", _cluster.Utilization(id, "test_units"));
    }
}
