namespace KvmOcf.IntegrationTests.Harness;

/// <summary>Installs the test-only agent as ocf:kvmocf:TestAgent for the duration of the test run
/// (pacemaker, pcs, crmsh and ocf-tester look for it there) and removes it at exit.</summary>
public static class InstalledTestAgent
{
    public const string Path = "/usr/lib/ocf/resource.d/kvmocf/TestAgent";
    private static readonly object Gate = new();
    private static bool _installed;

    public static string Ensure()
    {
        lock (Gate)
        {
            if (_installed) return Path;
            Repo.RequireBuild();
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            bool createdDirectory = Directory.GetFileSystemEntries(System.IO.Path.GetDirectoryName(Path)!).Length == 0;
            File.Copy(Repo.TestAgentBinary, Path, overwrite: true);
            File.SetUnixFileMode(Path, (UnixFileMode)0b111_101_101);
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                File.Delete(Path);
                if (createdDirectory && Directory.GetFileSystemEntries(System.IO.Path.GetDirectoryName(Path)!).Length == 0)
                    Directory.Delete(System.IO.Path.GetDirectoryName(Path)!);
            };
            _installed = true;
            return Path;
        }
    }
}
