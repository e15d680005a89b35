using System.Text.RegularExpressions;
using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>rpm.spec builds the checkout as a distribution does — a source tarball, rpmbuild -ba, %build
/// running packaging/build, %check the unit tests — into a source RPM and three subpackages, each
/// requiring what its programs need at run time; they install into a scratch root, verify, and run.</summary>
public sealed class RpmTests : IDisposable
{
    private const string Ocf = "/usr/lib/ocf/resource.d/kvmocf";

    /// <summary>Each subpackage: its files (besides its README) and what it must require.</summary>
    private static readonly Dictionary<string, (string[] Files, string[] Requires)> Subpackages = new()
    {
        ["kvmocf-resource-agents"] = (
            [$"{Ocf}/VirtualDomain", $"{Ocf}/GlusterMount", "/usr/share/man/man7/ocf_kvmocf_VirtualDomain.7", "/usr/share/man/man7/ocf_kvmocf_GlusterMount.7"],
            ["libvirt.so.0()(64bit)", "glusterfs-fuse", "pacemaker-cli"]),
        ["kvmocf-fence-agents"] = (
            ["/usr/sbin/fence_kvm", "/usr/sbin/fence_bmc", "/usr/sbin/fence_gluster",
             "/usr/share/man/man8/fence_kvm.8", "/usr/share/man/man8/fence_bmc.8", "/usr/share/man/man8/fence_gluster.8"],
            ["libvirt.so.0()(64bit)", "ipmitool", "glusterfs-cli"]),
        ["kvmocf-drbd"] = (
            [$"{Ocf}/DrbdDevice", "/usr/share/man/man7/ocf_kvmocf_DrbdDevice.7", "/usr/lib/drbd/kvmocf-fence-peer", "/usr/lib/drbd/kvmocf-unfence-peer"],
            ["drbd-utils", "pacemaker-cli"]),
    };

    private readonly string _scratch = Directory.CreateTempSubdirectory("kvmocf-rpmroot-").FullName;

    public RpmTests()
    {
        Packages.Ensure("rpm", "rpmlint", "binutils");
        Repo.RequireBuild();
    }

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    private ToolResult InScratch(params string[] arguments) => Sh.Run("rpm", ["--root", _scratch, "--dbpath", "/var/lib/rpm", .. arguments]);

    [Fact]
    public void The_spec_builds_source_and_binary_rpms_from_the_checkout_that_install_verify_and_run()
    {
        var build = Sh.Ok(Cli.Wrap(Path.Combine(Repo.Root, "packaging", "rpm")), TimeSpan.FromMinutes(25));
        var rpms = build.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var log = File.ReadAllText(Path.Combine(Repo.Build, "rpm", "rpmbuild.log"));
        Assert.Matches(@"Executing\(%check\)[\s\S]*tests: [1-9]\d* passed, 0 failed", log);    // %check ran the unit tests

        var source = Assert.Single(rpms, r => r.EndsWith(".src.rpm"));
        var sourceFiles = Sh.Ok("rpm", "-qlp", source).StandardOutput;
        Assert.Contains("kvmocf.spec", sourceFiles);
        Assert.Matches(@"kvmocf-[0-9.]+\.tar\.gz", sourceFiles);

        var binaries = rpms.Where(r => r.EndsWith(".x86_64.rpm")).ToDictionary(r => Sh.Ok("rpm", "-qp", "--qf", "%{NAME}", r).StandardOutput);
        Assert.Equal(Subpackages.Keys.Order(), binaries.Keys.Order());
        var packaged = new List<string>();
        foreach (var (name, (files, requires)) in Subpackages)
        {
            var listed = Sh.Ok("rpm", "-qlp", binaries[name]).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            // besides its files: the directories it shares, its README, and the build-id links rpm adds
            var regular = listed.Where(f => !f.StartsWith("/usr/share/doc/") && !f.StartsWith("/usr/lib/.build-id"))
                .Except([Ocf, "/usr/lib/ocf", "/usr/lib/ocf/resource.d", "/usr/lib/drbd"]);
            Assert.Equal(files.Order(), regular.Select(f => Regex.Replace(f, @"^(/usr/share/man/.*)\.gz$", "$1")).Order());
            Assert.Contains(listed, f => Regex.IsMatch(f, $@"^/usr/share/doc/{name}(-[0-9.]+)?/README\.md$"));   // unversioned on Fedora, versioned on Debian
            packaged.AddRange(files);

            var required = Sh.Ok("rpm", "-qp", "--requires", binaries[name]).StandardOutput.Split('\n').Select(r => r.Trim()).ToList();
            Assert.All(requires, r => Assert.Contains(r, required));
            // the glibc the binaries need, as rpm derived it from their symbol versions: 2.34 at most
            Assert.All(required.Where(r => r.StartsWith("libc.so.6(GLIBC_")), r => Assert.True(GlibcVersion(r) <= new Version(2, 34), r));
        }
        // every file the build staged is in exactly one subpackage (the README goes as each one's %doc)
        var staged = Directory.GetFiles(Repo.StagedRoot, "*", SearchOption.AllDirectories).Select(f => "/" + Path.GetRelativePath(Repo.StagedRoot, f))
            .Where(f => !f.StartsWith("/usr/share/doc/"));
        Assert.Equal(staged.Order(), packaged.Order());

        // rpmlint: no error, no warning but those packaging/kvmocf.rpmlintrc names with its reason
        var lint = Sh.Run("rpmlint", ["-r", Path.Combine(Repo.Root, "packaging", "kvmocf.rpmlintrc"),
            Path.Combine(Repo.Build, "rpm", "SPECS", "kvmocf.spec"), source, .. binaries.Values]);
        Assert.True(lint.Succeeded && lint.StandardOutput.Contains(" 0 errors, 0 warnings"), lint.StandardOutput);

        Assert.True(InScratch("--initdb").Succeeded);
        // a scratch root has no libvirt, glusterfs, drbd-utils or pacemaker packages to satisfy the requirements
        var install = InScratch(["-i", "--nodeps", .. binaries.Values]);
        Assert.True(install.Succeeded, install.StandardError);
        var verify = InScratch(["-V", "--nodeps", .. Subpackages.Keys]);
        Assert.True(verify.Succeeded, verify.StandardOutput + verify.StandardError);
        Assert.Equal("", verify.StandardOutput);

        foreach (var agent in new[] { "VirtualDomain", "GlusterMount", "DrbdDevice" })
        {
            var installed = Path.Combine(_scratch, Ocf.TrimStart('/'), agent);
            Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(installed));
            Assert.Contains($"<resource-agent name=\"{agent}\"", Sh.Ok(installed, "meta-data").StandardOutput);
        }
        foreach (var agent in new[] { "fence_kvm", "fence_bmc", "fence_gluster" })
            Assert.Contains($"<resource-agent name=\"{agent}\"", Sh.Ok(Path.Combine(_scratch, "usr/sbin", agent), "-o", "metadata").StandardOutput);
        Assert.Equal("kvmocf-fence-peer", new FileInfo(Path.Combine(_scratch, "usr/lib/drbd/kvmocf-unfence-peer")).LinkTarget);
    }

    /// <summary>The binaries run on CentOS Stream 9 / RHEL 9: no symbol of a glibc newer than 2.34.</summary>
    [Fact]
    public void No_binary_needs_a_glibc_newer_than_2_34()
    {
        var binaries = Directory.GetFiles(Repo.StagedRoot, "*", SearchOption.AllDirectories)
            .Where(f => File.ReadAllBytes(f) is [0x7f, (byte)'E', (byte)'L', (byte)'F', ..]).Append(Repo.TestAgentBinary).ToList();
        Assert.True(binaries.Count >= 7, string.Join(", ", binaries));
        foreach (var binary in binaries)
        {
            var versions = Regex.Matches(Sh.Ok("objdump", "-T", binary).StandardOutput, @"\bGLIBC_(\d+\.\d+(?:\.\d+)?)\b")
                .Select(m => Version.Parse(m.Groups[1].Value)).Distinct().ToList();
            Assert.NotEmpty(versions);                                              // dynamically linked against glibc
            Assert.True(versions.Max() <= new Version(2, 34), $"{binary} needs GLIBC_{versions.Max()}");
        }
    }

    private static Version GlibcVersion(string requirement) =>
        Version.Parse(Regex.Match(requirement, @"GLIBC_(\d+\.\d+(?:\.\d+)?)").Groups[1].Value);
}
