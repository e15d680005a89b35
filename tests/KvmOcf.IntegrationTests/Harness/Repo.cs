namespace KvmOcf.IntegrationTests.Harness;

/// <summary>Where the checkout and the outputs of packaging/build are.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();
    public static string Build => Path.Combine(Root, "build");
    public static string StagedRoot => Path.Combine(Build, "root");
    public static string TestAgentBinary => Path.Combine(Build, "test", "TestAgent");
    public static string OcfSchema => Path.Combine(Root, "tests", "schemas", "ocf-ra-api-1.1.rng");
    public const string PcsSchema = "/usr/share/pcs/data/ocf-1.1.rng";
    public static string StagedAgents => Path.Combine(StagedRoot, "usr/lib/ocf/resource.d/kvmocf");

    /// <summary>Every OCF agent binary the build produced, plus the test agent.</summary>
    public static IEnumerable<string> AllOcfAgents() =>
        (Directory.Exists(StagedAgents) ? Directory.GetFiles(StagedAgents) : []).Append(TestAgentBinary);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "KvmOcf.sln"))) return dir.FullName;
        throw new InvalidOperationException("KvmOcf.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Fails the test with a clear message when packaging/build has not run.</summary>
    public static void RequireBuild()
    {
        if (!File.Exists(TestAgentBinary))
            throw new InvalidOperationException($"{TestAgentBinary} is missing: run packaging/build first (tests/run does)");
    }
}
