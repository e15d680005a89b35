using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>Every built fence agent as a real binary: metadata valid against fence-agents' schema
/// (with an empty environment, as nobody), the same metadata through stdin, a man page and --help
/// from the same declaration, and bad input of every kind answered with exit 1 and one line —
/// never a stack trace, never a success.</summary>
public class FenceAgentProcessTests
{
    public FenceAgentProcessTests()
    {
        Packages.Ensure("libxml2-utils", "util-linux", "man-db");
        Repo.RequireBuild();
    }

    private static string FenceSchema => Path.Combine(Repo.Root, "tests", "schemas", "fence-agents-metadata.rng");

    public static TheoryData<string> Agents() =>
        new(Directory.GetFiles(Path.Combine(Repo.StagedRoot, "usr/sbin"), "fence_*").Select(Path.GetFileName)!);

    [Fact]
    public void The_three_agents_are_built() =>
        Assert.Equal(["fence_bmc", "fence_gluster", "fence_kvm"],
            Directory.GetFiles(Path.Combine(Repo.StagedRoot, "usr/sbin"), "fence_*").Select(Path.GetFileName).Order());

    [Theory]
    [MemberData(nameof(Agents))]
    public void Metadata_validates_against_the_fence_agents_schema_with_an_empty_environment_as_nobody(string agent)
    {
        var dir = Directory.CreateTempSubdirectory("kvmocf-fmd-").FullName;
        var copy = Path.Combine(dir, agent);
        File.Copy(FenceAgentRun.Staged(agent), copy);
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        try
        {
            var asNobody = Sh.Run("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "-i", copy, "-o", "metadata");
            Assert.Equal(0, asNobody.ExitCode);
            Assert.Equal("", asNobody.StandardError);
            var file = copy + ".xml";
            File.WriteAllText(file, asNobody.StandardOutput);
            var lint = Sh.Run("xmllint", "--noout", "--relaxng", FenceSchema, file);
            Assert.True(lint.Succeeded, $"{agent}: {lint.StandardError}");

            var xml = XmlOutput.Parse(asNobody.StandardOutput);
            Assert.Equal(agent, (string?)xml.Attribute("name"));
            foreach (var action in new[] { "on", "off", "status", "monitor", "metadata", "validate-all" })
                Assert.Contains(action, xml.Element("actions")!.Elements("action").Select(a => (string?)a.Attribute("name")));
            // pacemaker-fenced's way gives the same
            Assert.Equal(asNobody.StandardOutput, FenceAgentRun.WithStdin(agent, "action=metadata\n").StandardOutput);
            Assert.Equal(asNobody.StandardOutput, FenceAgentRun.WithStdin(agent, "action=meta-data\n").StandardOutput);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Theory]
    [MemberData(nameof(Agents))]
    public void Man_page_and_help_are_derived_from_the_same_declaration(string agent)
    {
        var man = FenceAgentRun.Args(agent, ["-o", "manpage"]);
        var help = FenceAgentRun.Args(agent, ["--help"]);
        Assert.Equal((0, ""), (man.ExitCode, man.StandardError));
        Assert.Equal((0, ""), (help.ExitCode, help.StandardError));
        Assert.StartsWith($".TH {agent.ToUpperInvariant()} 8", man.StandardOutput);
        var metadata = XmlOutput.Parse(FenceAgentRun.Args(agent, ["-o", "metadata"]).StandardOutput);
        foreach (var parameter in metadata.Descendants("parameter").Where(p => (string?)p.Attribute("deprecated") != "1"))
        {
            var getopt = (string)parameter.Element("getopt")!.Attribute("mixed")!;
            Assert.Contains(getopt.Replace("-", "\\-"), man.StandardOutput);
            Assert.Contains(getopt, help.StandardOutput);
        }
        // man(1) renders it without a warning
        var rendered = Sh.Bash("\"$1\" -o manpage | MANWIDTH=100 man --warnings -l - 2>&1 >/dev/null", FenceAgentRun.Staged(agent));
        Assert.True(rendered.Succeeded && rendered.StandardOutput.Trim() == "", rendered.StandardOutput);
    }

    public static TheoryData<string, string[], string, string> BadInput() => new()
    {
        { "fence_kvm", [], "action=status\nport=vm1\n", "option 'uri' is required" },
        { "fence_kvm", [], "action=status\nport=vm1\nuri=nonsense\n", "option 'uri': 'nonsense' is not a list of libvirt URIs" },
        { "fence_kvm", [], "action=status\nuri=qemu:///system\n", "no plug given (plug=… or -n …)" },
        { "fence_kvm", [], "action=explode\nport=vm1\nuri=qemu:///system\n", "unknown action 'explode'" },
        { "fence_kvm", [], "action=off\nport=vm1\nuri=qemu:///system\npower_timeout=soon\n", "option 'power_timeout': 'soon' is not a time" },
        { "fence_kvm", [], "action=off\nport=vm1\nuri=qemu:///system\nhost_timeout=0\n", "option 'host_timeout'" },
        { "fence_kvm", ["-o", "status", "--frobnicate"], "", "unknown option --frobnicate" },
        { "fence_kvm", ["-o"], "", "option -o needs a value" },
        { "fence_kvm", ["stray"], "", "unexpected argument 'stray'" },
        { "fence_bmc", [], "action=status\n", "option 'ip' is required" },
        { "fence_bmc", [], "action=status\nip=127.0.0.1\nipport=70000\n", "option 'ipport': '70000' must be between 0 and 65535" },
        { "fence_bmc", [], "action=status\nip=127.0.0.1\nprivlvl=god\n", "option 'privlvl'" },
        { "fence_bmc", [], "action=status\nip=127.0.0.1\nmethod=kick\n", "option 'method'" },
        { "fence_bmc", [], "action=status\nip=127.0.0.1\npassword_script=\n\npassword_script=/nonexistent/pw\n", "password_script: pw is not installed" },
        { "fence_bmc", [], "action=status\nip=127.0.0.1\npassword_script='unterminated\n", "unterminated quote" },
        { "fence_bmc", [], "action=status\nip=127.0.0.1\nipmitool_path=/nonexistent/ipmitool\ncipher=3\n", "ipmitool is not installed" },
        { "fence_bmc", [], "action=list\nip=127.0.0.1\n", "unknown action 'list'" },
        { "fence_gluster", [], "action=off\nplug=10.0.0.1\nservers=g1\n", "option 'volumes' is required" },
        { "fence_gluster", [], "action=off\nplug=10.0.0.1\nvolumes=gv0\n", "option 'servers' is required" },
        { "fence_gluster", [], "action=off\nvolumes=gv0\nservers=g1\n", "option 'plug' is required" },
        { "fence_gluster", [], "action=off\nplug=-rf\nvolumes=gv0\nservers=g1\n", "plug '-rf' is not an address or host name" },
        { "fence_gluster", [], "action=off\nplug=10.0.0.1\nvolumes=../etc\nservers=g1\n", "is not a list of volume names" },
        { "fence_gluster", [], "action=off\nplug=10.0.0.1\nvolumes=gv0\nservers=--remote-host=x\n", "is not a list of host names" },
        { "fence_gluster", [], "action=reboot\nplug=10.0.0.1\nvolumes=gv0\nservers=g1\n", "unknown action 'reboot'" },
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public void Bad_input_fails_with_one_line_and_no_trace(string agent, string[] args, string stdin, string reason)
    {
        var r = args.Length > 0 ? FenceAgentRun.Args(agent, args, timeout: TimeSpan.FromSeconds(30))
            : FenceAgentRun.WithStdin(agent, stdin, timeout: TimeSpan.FromSeconds(30));
        FenceAgentRun.AssertCleanFailure(r, reason);
        Assert.True(r.Elapsed < TimeSpan.FromSeconds(5), $"took {r.Elapsed.TotalSeconds:0.0}s");
    }

    [Theory]
    [MemberData(nameof(Agents))]
    public void Garbage_and_floods_on_stdin_are_refused_or_named_briefly(string agent)
    {
        var flood = Sh.Bash("head -c 2000000 /dev/urandom | env -i \"$1\"", FenceAgentRun.Staged(agent));
        FenceAgentRun.AssertCleanFailure(flood, "more than 1 MiB of options on stdin");

        var garbage = Sh.Bash("head -c 200000 /dev/urandom | env -i \"$1\"", FenceAgentRun.Staged(agent));
        Assert.Equal(1, garbage.ExitCode);
        Assert.True(garbage.StandardError.Split('\n').Length < 20, $"{garbage.StandardError.Split('\n').Length} lines of complaints");
        Assert.DoesNotContain("   at ", garbage.StandardError);
        Assert.DoesNotContain("Exception", garbage.StandardError);

        var closed = Sh.Bash("env -i \"$1\" -o metadata >&-", FenceAgentRun.Staged(agent));
        Assert.Equal(1, closed.ExitCode);
        Assert.DoesNotContain("   at ", closed.StandardError);
    }
}
