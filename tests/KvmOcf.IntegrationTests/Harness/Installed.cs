namespace KvmOcf.IntegrationTests.Harness;

/// <summary>Agents installed where pacemaker, pcs, crmsh and ocf-tester look for them, for the
/// duration of the test run: copied in on first use, removed at exit (only what was copied in).</summary>
public static class Installed
{
    private const string OcfDirectory = "/usr/lib/ocf/resource.d/kvmocf";
    private static readonly object Gate = new();
    private static readonly HashSet<string> Placed = [];
    private static bool _cleanupRegistered;

    /// <summary>The test-only agent as ocf:kvmocf:TestAgent.</summary>
    public static string TestAgent() => Ocf("TestAgent", Repo.TestAgentBinary);

    /// <summary>A built agent from the staged root, e.g. ocf:kvmocf:VirtualDomain.</summary>
    public static string Agent(string name) => Ocf(name, Path.Combine(Repo.StagedAgents, name));

    public static string Ocf(string name, string source) => Place(Path.Combine(OcfDirectory, name), source);

    public static string Fence(string name, string source) => Place(Path.Combine("/usr/sbin", name), source);

    private static string Place(string target, string source)
    {
        lock (Gate)
        {
            if (Placed.Contains(target)) return target;
            if (!File.Exists(source)) throw new InvalidOperationException($"{source} is missing: run packaging/build first (tests/run does)");
            if (File.Exists(target)) throw new InvalidOperationException($"{target} exists already; the tests will not overwrite an installed agent");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target);
            File.SetUnixFileMode(target, (UnixFileMode)0b111_101_101);
            Placed.Add(target);
            if (!_cleanupRegistered)
            {
                AppDomain.CurrentDomain.ProcessExit += (_, _) => RemoveAll();
                _cleanupRegistered = true;
            }
            return target;
        }
    }

    private static void RemoveAll()
    {
        lock (Gate)
        {
            foreach (var target in Placed) File.Delete(target);
            Placed.Clear();
            if (Directory.Exists(OcfDirectory) && Directory.GetFileSystemEntries(OcfDirectory).Length == 0) Directory.Delete(OcfDirectory);
        }
    }
}
