using System.Xml.Linq;
using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>ocf:kvmocf:DrbdDevice as a promotable clone of the guests' own 2-node pacemaker (no
/// STONITH), with DRBD's <c>fencing resource-only</c> and the built fence-peer handler: a failover
/// with the data intact, and the handler's constraint placed when the replication link fails,
/// blocking promotion of the side left behind, and removed after the resync.</summary>
[Collection(DrbdCollection.Name)]
[Trait("Stack", "drbd")]
public sealed class DrbdClusterTests(DrbdLab lab)
{
    private const string Clone = "ms_drbd_r2";
    private const string ConstraintId = "drbd-fence-by-handler-r2-" + Clone;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(150);

    private static readonly string CloneXml = DrbdLab.PromotableClone("r2", promoteTimeoutSeconds: 90);

    private string? Primary() => new[] { "a", "b" }.FirstOrDefault(n => lab.State(n, 2).Contains("ro:Primary/"));
    private bool Down(string node) => !lab.State(node, 2).Contains("ro:");

    /// <summary>The handler's constraint as the CIB has it: the nodes it still allows, or null when there is none.</summary>
    private List<string>? Allowed()
    {
        var c = lab.Cib().Descendants("rsc_location").FirstOrDefault(l => (string?)l.Attribute("id") == ConstraintId);
        return c?.Descendants("expression").Select(e => (string)e.Attribute("value")!).ToList();
    }

    private void Standby(string node, bool on) => lab.Ok(node, $"crm_attribute --node {node} --name standby --update {(on ? "on" : "off")} --lifetime forever");

    [Fact]
    public void Failover_and_fencing_by_constraint_on_a_replication_link_failure()
    {
        // first-time setup of blank disks outside pacemaker, as an admin does (no initial sync)
        lab.FreshPair(2);

        File.WriteAllText(Path.Combine(lab.Share, "clone-r2.xml"), CloneXml);
        lab.Ok("a", "cibadmin --create --scope resources --xml-file /share/clone-r2.xml");
        try
        {
            Assert.True(Sh.Eventually(() => Primary() is not null, Settle), "no Primary: " + lab.State("a", 2) + " | " + lab.State("b", 2));
            var p = Primary()!;
            var q = p == "a" ? "b" : "a";
            Assert.True(lab.WaitFor(q, 2, Settle, "ro:Secondary/Primary", "ds:UpToDate/UpToDate"), lab.State(q, 2));
            Assert.True(Sh.Eventually(() => PromotedOn(p), TimeSpan.FromSeconds(60)), "crm_mon does not show drbd_r2 Promoted on " + p);
            lab.Ok(p, "dd if=/dev/urandom of=/dev/drbd2 bs=1M count=1 oflag=direct 2>/dev/null");

            // the replication link fails: the Primary's DRBD calls the handler, which fences q by constraint
            lab.Link(q, up: false);
            Assert.True(Sh.Eventually(() => Allowed() is [var only] && only == p, TimeSpan.FromSeconds(90)), $"constraint: {string.Join(",", Allowed() ?? [])}");
            Assert.True(lab.WaitFor(p, 2, TimeSpan.FromSeconds(30), "ro:Primary/Unknown", "ds:UpToDate/Outdated"), lab.State(p, 2));
            Assert.Contains("fence-peer r2 exit code 4", lab.Ok(p, "dmesg").StandardOutput);      // "peer fenced, constraint placed"
            lab.Ok(p, "dd if=/dev/urandom of=/dev/drbd2 bs=1M count=1 oflag=direct 2>/dev/null");
            var written = lab.Checksum(p, 2);

            // p goes away: pacemaker must not promote q, whose data is behind
            Standby(p, on: true);
            Assert.True(Sh.Eventually(() => Down(p), Settle), lab.State(p, 2));
            Assert.False(Sh.Eventually(() => lab.State(q, 2).Contains("ro:Primary"), TimeSpan.FromSeconds(30)), "promoted despite the constraint: " + lab.State(q, 2));
            Standby(p, on: false);
            Assert.True(lab.WaitFor(p, 2, Settle, "ro:Primary"), lab.State(p, 2));

            // the link comes back: q resyncs, and its after-resync-target handler removes the constraint
            lab.Link(q, up: true);
            Assert.True(lab.WaitFor(q, 2, Settle, "ro:Secondary/Primary", "ds:UpToDate/UpToDate"), lab.State(q, 2));
            Assert.True(Sh.Eventually(() => Allowed() is null, TimeSpan.FromSeconds(60)), $"constraint left: {string.Join(",", Allowed() ?? [])}");

            // a failover to q now, with p's last write there
            Standby(p, on: true);
            Assert.True(lab.WaitFor(q, 2, Settle, "ro:Primary"), lab.State(q, 2));
            Assert.Equal(written, lab.Checksum(q, 2));
            Assert.True(Sh.Eventually(() => PromotedOn(q), TimeSpan.FromSeconds(60)), "crm_mon does not show drbd_r2 Promoted on " + q);
            Standby(p, on: false);
            Assert.True(lab.WaitFor(p, 2, Settle, "ro:Secondary/Primary", "ds:UpToDate/UpToDate"), lab.State(p, 2));
        }
        finally
        {
            lab.Exec("a", $"crm_resource --resource {Clone} --meta --set-parameter target-role --parameter-value Stopped");
            Sh.Eventually(() => Down("a") && Down("b"), Settle);
            lab.Exec("a", $"cibadmin --delete --xml-text '<clone id=\"{Clone}\"/>'; cibadmin --delete --xml-text '<rsc_location id=\"{ConstraintId}\"/>'");
            foreach (var n in new[] { "a", "b" }) { lab.Link(n, up: true); Standby(n, on: false); }
        }
    }

    private bool PromotedOn(string node) =>
        XmlOutput.TryParse(lab.Exec(node, "crm_mon -1 --output-as=xml").StandardOutput)?.Descendants("resource")
            .Any(r => (string?)r.Attribute("id") == "drbd_r2" && (string?)r.Attribute("role") == "Promoted"
                && r.Elements("node").Any(n => (string?)n.Attribute("name") == node)) == true;
}
