using KvmOcf.IntegrationTests.Harness;
using KvmOcf.Ocf;

namespace KvmOcf.IntegrationTests;

/// <summary>The runtime's pacemaker helpers against the live cluster: they read through
/// --output-as=xml, and write only when the value differs.</summary>
[Collection(PacemakerCollection.Name)]
[Trait("Stack", "pacemaker")]
public sealed class ClusterHelperTests(PacemakerCluster cluster)
{
    /// <summary>An agent whose start runs the given code with a real context.</summary>
    private sealed class Probe(Func<OcfContext, OcfResult> body) : ResourceAgent
    {
        public override string Name => "Probe";
        public override string ShortDescription => "probe";
        public override string LongDescription => "probe";
        public override IReadOnlyList<KvmOcf.Core.Parameter> Parameters => [];
        public override IReadOnlyList<OcfAction> Actions => [new("start", TimeSpan.FromSeconds(60), body)];
    }

    private static void InAgent(string instance, Action<OcfContext> body)
    {
        var env = new OcfEnvironment(new Dictionary<string, string> { ["OCF_RESOURCE_INSTANCE"] = instance });
        var stderr = new StringWriter();
        int code = OcfRuntime.Run(new Probe(c => { body(c); return OcfResult.Success; }), ["start"], env, new StringWriter(), stderr);
        Assert.True(code == 0, stderr.ToString());
    }

    [Fact]
    public void Node_attributes_are_read_written_and_removed_once()
    {
        InAgent("h1", c =>
        {
            foreach (var lifetime in new[] { AttributeLifetime.Reboot, AttributeLifetime.Forever })
            {
                var name = $"kvmocf-test-{lifetime}".ToLowerInvariant();
                Assert.Null(c.Cluster.NodeAttribute(name, lifetime));
                Assert.True(c.Cluster.SetNodeAttribute(name, "a b", lifetime));
                Assert.True(Sh.Eventually(() => c.Cluster.NodeAttribute(name, lifetime) == "a b", TimeSpan.FromSeconds(20)));
                Assert.False(c.Cluster.SetNodeAttribute(name, "a b", lifetime));
                Assert.Equal("a b", c.Cluster.NodeAttribute(name, lifetime, cluster.NodeName));
                Assert.True(c.Cluster.RemoveNodeAttribute(name, lifetime));
                Assert.True(Sh.Eventually(() => c.Cluster.NodeAttribute(name, lifetime) is null, TimeSpan.FromSeconds(20)));
                Assert.False(c.Cluster.RemoveNodeAttribute(name, lifetime));
            }
        });
    }

    [Fact]
    public void Promotion_score_is_set_once_and_removed()
    {
        InAgent("h2", c =>
        {
            Assert.Null(c.Cluster.PromotionScore());
            Assert.True(c.Cluster.SetPromotionScore(1000));
            Assert.True(Sh.Eventually(() => c.Cluster.PromotionScore() == 1000, TimeSpan.FromSeconds(20)));
            Assert.False(c.Cluster.SetPromotionScore(1000));
            Assert.True(c.Cluster.RemovePromotionScore());
            Assert.True(Sh.Eventually(() => c.Cluster.PromotionScore() is null, TimeSpan.FromSeconds(20)));
        });
    }

    [Fact]
    public void Utilization_is_set_once_and_removed_on_the_primitive_of_a_clone_instance()
    {
        Sh.Ok("pcs", "resource", "create", "u1", "ocf:heartbeat:Dummy", "--disabled");
        try
        {
            InAgent("u1:0", c =>
            {
                Assert.Null(c.Cluster.Utilization("cpu"));
                Assert.True(c.Cluster.SetUtilization("cpu", "4"));
                Assert.Equal("4", c.Cluster.Utilization("cpu"));
                Assert.False(c.Cluster.SetUtilization("cpu", "4"));
                Assert.True(c.Cluster.RemoveUtilization("cpu"));
                Assert.Null(c.Cluster.Utilization("cpu"));
            });
        }
        finally { Sh.Run("pcs", "resource", "delete", "u1", "--force"); }
    }
}
