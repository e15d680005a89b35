namespace KvmOcf.IntegrationTests.Harness;

/// <summary>Debian packages the real-stack fixtures need, installed when missing (tests/run
/// installs them all up front; this keeps a single test runnable on its own).</summary>
public static class Packages
{
    private static readonly object Gate = new();

    public static void Ensure(params string[] packages)
    {
        lock (Gate)
        {
            var missing = packages.Where(p => Sh.Run("dpkg-query", "-W", "-f=${Status}", p).StandardOutput != "install ok installed").ToArray();
            if (missing.Length == 0) return;
            // Keep apt from starting daemons: the fixtures start what they need, by hand.
            if (!File.Exists("/usr/sbin/policy-rc.d"))
            {
                File.WriteAllText("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n");
                File.SetUnixFileMode("/usr/sbin/policy-rc.d", (UnixFileMode)0b111_101_101);
            }
            var aptGet = Cli.Wrap("apt-get").WithEnvironmentVariables(e => e.Set("DEBIAN_FRONTEND", "noninteractive"));
            Sh.Run(aptGet.WithArguments(["update"]), TimeSpan.FromMinutes(10));
            Sh.Ok(aptGet.WithArguments(["install", "-y", "--no-install-recommends", .. missing]), TimeSpan.FromMinutes(20));
        }
    }
}
