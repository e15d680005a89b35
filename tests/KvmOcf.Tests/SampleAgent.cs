using KvmOcf.Ocf;

namespace KvmOcf.Tests;

/// <summary>An agent with one parameter of every type, whose handlers the tests supply.</summary>
internal sealed class SampleAgent : ResourceAgent
{
    public static readonly StringParameter Path = new("path")
    {
        Required = true,
        UniqueGroup = "path",
        FormerNames = ["file"],
        ShortDescription = "A path",
        LongDescription = "An absolute path <with> \"markup\" & 'quotes'.",
        Check = p => p.StartsWith('/') ? null : "is not an absolute path",
    };
    public static readonly IntegerParameter Count = new("count")
    {
        Default = 3, Minimum = 0, Maximum = 100,
        ShortDescription = "A count", LongDescription = "How many.",
    };
    public static readonly BooleanParameter Flag = new("flag") { ShortDescription = "A flag", LongDescription = "On or off." };
    public static readonly SelectParameter Mode = new("mode", "fast", "safe")
    {
        Default = "safe", Reloadable = true,
        ShortDescription = "A mode", LongDescription = "fast or safe.",
    };
    public static readonly TimeParameter Wait = new("wait")
    {
        Default = TimeSpan.FromSeconds(30), Maximum = TimeSpan.FromHours(1),
        ShortDescription = "A wait", LongDescription = "How long.",
    };
    public static readonly StringParameter Password = new("password")
    {
        Secret = true, MaxLength = 64,
        ShortDescription = "A password", LongDescription = "Never shown.",
    };
    public static readonly StringParameter Old = new("old")
    {
        Deprecated = "it does nothing",
        ShortDescription = "Old", LongDescription = "An old parameter.",
    };

    public Func<OcfContext, OcfResult> OnStart { get; init; } = _ => OcfResult.Success;
    public Func<OcfContext, OcfResult> OnStop { get; init; } = _ => OcfResult.Success;
    public Func<OcfContext, OcfResult> OnMonitor { get; init; } = _ => OcfResult.NotRunning();
    public Func<OcfContext, OcfResult> OnValidateHost { get; init; } = _ => OcfResult.Success;
    public Func<OcfContext, OcfResult> OnValidateConfiguration { get; init; } = _ => OcfResult.Success;

    public override string Name => "Sample";
    public override string ShortDescription => "Sample agent";
    public override string LongDescription => "An agent for the runtime's unit tests.";
    public override IReadOnlyList<Parameter> Parameters => [Path, Count, Flag, Mode, Wait, Password, Old];

    public override IReadOnlyList<OcfAction> Actions =>
    [
        new("start", TimeSpan.FromSeconds(20), c => OnStart(c)),
        new("stop", TimeSpan.FromSeconds(20), c => OnStop(c)),
        new("monitor", TimeSpan.FromSeconds(20), c => OnMonitor(c)) { Interval = TimeSpan.FromSeconds(10), Depth = 0 },
        new("monitor", TimeSpan.FromSeconds(30), c => OnMonitor(c)) { Interval = TimeSpan.FromSeconds(9), Role = "Promoted" },
    ];

    public override OcfResult ValidateHost(OcfContext context) => OnValidateHost(context);
    public override OcfResult ValidateConfiguration(OcfContext context) => OnValidateConfiguration(context);
}

/// <summary>Runs an agent in-process with a given environment and captures what it printed.</summary>
internal sealed record Outcome(int ExitCode, string Stdout, string Stderr)
{
    public static Outcome Run(ResourceAgent agent, string action, IDictionary<string, string>? env = null, IReadOnlySet<string>? notUtf8 = null)
    {
        var vars = new Dictionary<string, string>(env ?? new Dictionary<string, string>());
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = OcfRuntime.Run(agent, action.Length == 0 ? [] : [action], new OcfEnvironment(vars, notUtf8), stdout, stderr);
        return new Outcome(code, stdout.ToString(), stderr.ToString());
    }

    public string[] ExitReasons => Stderr.Split('\n').Where(l => l.StartsWith("ocf-exit-reason:")).ToArray();
    /// <summary>What pacemaker would record: the last exit-reason line.</summary>
    public string? ExitReason => ExitReasons.LastOrDefault()?["ocf-exit-reason:".Length..];
    public bool HasStackTrace => Stderr.Contains("   at ") || Stderr.Contains("Exception:") && Stderr.Contains(".cs:line");
}
