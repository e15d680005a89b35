using KvmOcf.IntegrationTests.Harness;

namespace KvmOcf.IntegrationTests;

/// <summary>rpm.spec turns the staged install root into a binary RPM that lists, installs into a
/// scratch root and verifies.</summary>
public sealed class RpmTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("kvmocf-rpmroot-").FullName;

    public RpmTests()
    {
        Packages.Ensure("rpm");
        Repo.RequireBuild();
    }

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public void The_rpm_builds_lists_installs_and_verifies()
    {
        var rpm = Sh.Ok(Cli.Wrap(Path.Combine(Repo.Root, "packaging", "rpm")), TimeSpan.FromMinutes(5)).StandardOutput.Trim();
        Assert.EndsWith(".x86_64.rpm", rpm);

        var listed = Sh.Ok("rpm", "-qlp", rpm).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("/usr/lib/ocf/resource.d/kvmocf", listed);
        var staged = Directory.GetFiles(Repo.StagedRoot, "*", SearchOption.AllDirectories).Select(f => "/" + Path.GetRelativePath(Repo.StagedRoot, f)).ToList();
        Assert.All(staged, f => Assert.Contains(f, listed));
        Assert.DoesNotContain(listed, f => f.StartsWith("/usr/lib64"));   // /usr/lib/ocf, never %{_libdir}

        var requires = Sh.Ok("rpm", "-qp", "--requires", rpm).StandardOutput;
        Assert.Contains("glibc >= 2.34", requires);

        // A scratch root has no glibc or pacemaker packages to satisfy dependencies.
        Sh.Ok("rpm", "--root", _scratch, "--dbpath", "/var/lib/rpm", "--initdb");
        Sh.Ok("rpm", "--root", _scratch, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", rpm);
        var verify = Sh.Run("rpm", "--root", _scratch, "--dbpath", "/var/lib/rpm", "-V", "--nodeps", "kvmocf");
        Assert.True(verify.Succeeded, verify.StandardOutput + verify.StandardError);
        Assert.Equal("", verify.StandardOutput);

        foreach (var agent in Directory.GetFiles(Path.Combine(_scratch, "usr/lib/ocf/resource.d/kvmocf")))
        {
            Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(agent));
            Assert.Equal(0, Sh.Run(agent, "meta-data").ExitCode);   // the installed binary runs
        }
        foreach (var agent in new[] { "fence_kvm", "fence_bmc", "fence_gluster" })
        {
            var installed = Path.Combine(_scratch, "usr/sbin", agent);
            Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(installed));
            Assert.Contains($"<resource-agent name=\"{agent}\"", Sh.Ok(installed, "-o", "metadata").StandardOutput);
            Assert.True(File.Exists(Path.Combine(_scratch, "usr/share/man/man8", agent + ".8")), agent + ".8");
        }
        Assert.True(File.Exists(Path.Combine(_scratch, "usr/share/doc/kvmocf/README.md")));
    }
}
