using System.Diagnostics;
using KvmOcf.IntegrationTests.Harness;
using Xunit.Abstractions;

namespace KvmOcf.IntegrationTests;

/// <summary>ocf:kvmocf:DrbdDevice with STONITH in the guests' 2-node pacemaker: a fence_bmc device
/// per guest drives that guest's BMC (ipmi_sim on the host, chassis power = the guest's qemu), and
/// r3 has DRBD's <c>fencing resource-and-stonith</c> with the built fence-peer handler. The Primary
/// loses power: pacemaker fences it through its BMC, the survivor's promotion calls the handler,
/// which finds the peer fenced and answers 7, and the survivor is Primary with the data written
/// before the loss. The BMC's power on boots the fenced guest again; it resyncs and its
/// after-resync-target handler lifts the constraint.</summary>
[Collection(DrbdStonithCollection.Name)]
[Trait("Stack", "drbd")]
public sealed class DrbdStonithTests(DrbdStonithLab fixture, ITestOutputHelper output)
{
    private readonly DrbdLab lab = fixture.Lab;
    private const string Clone = "ms_drbd_r3";
    private const string ConstraintId = "drbd-fence-by-handler-r3-" + Clone;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(150);
    private static readonly string[] Nodes = ["a", "b"];

    private static readonly string CloneXml = DrbdLab.PromotableClone("r3", promoteTimeoutSeconds: 120);

    /// <summary>fence_bmc for <paramref name="node"/>'s BMC, at 10.0.2.2 (the host's loopback from the guests).</summary>
    private string DeviceXml(string node) => $"""
        <primitive id="bmc_{node}" class="stonith" type="fence_bmc">
          <instance_attributes id="bmc_{node}-ia">
            <nvpair id="bmc_{node}-ip" name="ip" value="10.0.2.2"/>
            <nvpair id="bmc_{node}-ipport" name="ipport" value="{lab.BmcPort(node)}"/>
            <nvpair id="bmc_{node}-username" name="username" value="admin"/>
            <nvpair id="bmc_{node}-password" name="password" value="secret"/>
            <nvpair id="bmc_{node}-hosts" name="pcmk_host_list" value="{node}"/>
          </instance_attributes>
          <operations><op id="bmc_{node}-mon" name="monitor" interval="60s" timeout="60s"/></operations>
        </primitive>
        """;

    private string? Primary() => Nodes.FirstOrDefault(n => lab.State(n, 3).Contains("ro:Primary/"));

    private List<string>? Allowed(string node)
    {
        var c = lab.Cib(node).Descendants("rsc_location").FirstOrDefault(l => (string?)l.Attribute("id") == ConstraintId);
        return c?.Descendants("expression").Select(e => (string)e.Attribute("value")!).ToList();
    }

    private bool Online(string node, string seenBy) =>
        XmlOutput.TryParse(lab.Exec(seenBy, "crm_mon -1 --output-as=xml").StandardOutput)?.Descendants("node")
            .Any(n => (string?)n.Attribute("name") == node && (string?)n.Attribute("online") == "true") == true;

    private bool PromotedOn(string node) =>
        XmlOutput.TryParse(lab.Exec(node, "crm_mon -1 --output-as=xml").StandardOutput)?.Descendants("resource")
            .Any(r => (string?)r.Attribute("id") == "drbd_r3" && (string?)r.Attribute("role") == "Promoted"
                && r.Elements("node").Any(n => (string?)n.Attribute("name") == node)) == true;

    [Fact]
    public void Power_loss_of_the_primary_is_fenced_by_stonith_and_the_handler_answers_7()
    {
        lab.FreshPair(3);

        // each guest's BMC answers fence_bmc from the other guest, over QEMU user networking
        foreach (var n in Nodes)
        {
            var status = lab.Exec(n == "a" ? "b" : "a", $"printf 'ip=10.0.2.2\\nipport={lab.BmcPort(n)}\\nusername=admin\\npassword=secret\\naction=status\\n' | fence_bmc");   // the password on stdin, never in argv
            Assert.True(status.Succeeded, $"fence_bmc status of {n}'s BMC: {status.StandardOutput} {status.StandardError}");
            Assert.Contains("ON", status.StandardOutput, StringComparison.OrdinalIgnoreCase);
        }

        // STONITH: a fence_bmc device per node, never run on the node it fences
        foreach (var n in Nodes)
        {
            File.WriteAllText(Path.Combine(lab.Share, $"bmc_{n}.xml"), DeviceXml(n));
            lab.Ok("a", $"cibadmin --create --scope resources --xml-file /share/bmc_{n}.xml");
            lab.Ok("a", $"cibadmin --create --scope constraints --xml-text '<rsc_location id=\"bmc_{n}-avoids\" rsc=\"bmc_{n}\" node=\"{n}\" score=\"-INFINITY\"/>'");
        }
        lab.Ok("a", "crm_attribute --type crm_config --name stonith-timeout --update 120s && crm_attribute --type crm_config --name stonith-enabled --update true");
        foreach (var n in Nodes)
            Assert.True(Sh.Eventually(() => lab.Exec(n, "stonith_admin --list-registered").StandardOutput.Contains($"bmc_{(n == "a" ? "b" : "a")}"), TimeSpan.FromSeconds(90)),
                $"{n}'s fencer has no bmc device: {lab.Exec(n, "stonith_admin --list-registered").StandardOutput}");

        File.WriteAllText(Path.Combine(lab.Share, "clone-r3.xml"), CloneXml);
        lab.Ok("a", "cibadmin --create --scope resources --xml-file /share/clone-r3.xml");
        Assert.True(Sh.Eventually(() => Primary() is not null, Settle), "no Primary: " + lab.State("a", 3) + " | " + lab.State("b", 3));
        var p = Primary()!;
        var q = p == "a" ? "b" : "a";
        Assert.True(lab.WaitFor(q, 3, Settle, "ro:Secondary/Primary", "ds:UpToDate/UpToDate"), lab.State(q, 3));
        Assert.True(Sh.Eventually(() => PromotedOn(p), TimeSpan.FromSeconds(60)), "crm_mon does not show drbd_r3 Promoted on " + p);
        lab.Ok(p, "dd if=/dev/urandom of=/dev/drbd3 bs=1M count=1 oflag=direct 2>/dev/null");
        var written = lab.Checksum(p, 3);
        var chassisBefore = lab.ChassisLog(p).Length;

        // power loss of the Primary
        var clock = Stopwatch.StartNew();
        lab.Kill(p);
        Assert.True(lab.WaitFor(q, 3, Settle, "ro:Primary/Unknown", "ds:UpToDate/"), lab.State(q, 3));
        output.WriteLine($"{q} Primary {clock.Elapsed.TotalSeconds:0.0} s after {p} lost power ({lab.State(q, 3)})");
        Assert.Equal(written, lab.Checksum(q, 3));

        // the handler found the peer fenced by STONITH: exit code 7, the constraint placed
        var dmesg = lab.Ok(q, "dmesg").StandardOutput;
        output.WriteLine(string.Join("\n", dmesg.Split('\n').Where(l => l.Contains("fence-peer"))));
        Assert.Contains("fence-peer r3 exit code 7", dmesg);
        Assert.DoesNotContain("fence-peer r3 exit code 5", dmesg);
        Assert.Equal([q], Allowed(q));

        // pacemaker fenced p through its BMC: the fencer's history, its log, and the chassis
        var history = lab.Ok(q, $"stonith_admin --history {p} --output-as=xml").StandardOutput;
        output.WriteLine(history);
        Assert.True(XmlOutput.TryParse(history)?.Descendants("fence_event").Any(e => (string?)e.Attribute("target") == p
            && (string?)e.Attribute("status") == "success") == true, history);
        var fencerLog = lab.Ok(q, $"grep -h 'targeting {p} using' /var/log/pacemaker/pacemaker.log").StandardOutput;
        output.WriteLine(fencerLog);
        Assert.Contains($"using bmc_{p}", fencerLog);
        // the BMC saw the power off (the loss): fence_bmc's reboot of a plug already off is a power on
        Assert.True(Sh.Eventually(() => lab.ChassisLog(p).Skip(chassisBefore).Any(l => l.Contains("set power 1")), TimeSpan.FromSeconds(30)),
            string.Join("\n", lab.ChassisLog(p)));
        Assert.True(Sh.Eventually(() => PromotedOn(q), TimeSpan.FromSeconds(60)), "crm_mon does not show drbd_r3 Promoted on " + q);

        // the fence was a reboot: the BMC powered p on again; it rejoins, resyncs, and its
        // after-resync-target handler lifts the constraint
        Assert.Contains(lab.ChassisLog(p).Skip(chassisBefore), l => l.Contains(" ON boot"));
        output.WriteLine(string.Join("\n", lab.ChassisLog(p).Skip(chassisBefore)));
        Assert.True(Sh.Eventually(() => lab.Answers(p) && Online(p, q), TimeSpan.FromMinutes(5)), $"{p} did not come back online");
        output.WriteLine($"{p} online again {clock.Elapsed.TotalSeconds:0.0} s after the power loss");
        Assert.True(lab.WaitFor(p, 3, Settle, "ro:Secondary/Primary", "ds:UpToDate/UpToDate"), lab.State(p, 3));
        Assert.True(Sh.Eventually(() => Allowed(q) is null, TimeSpan.FromSeconds(60)), $"constraint left: {string.Join(",", Allowed(q) ?? [])}");
        Assert.Equal(written, lab.Checksum(q, 3));
    }
}
