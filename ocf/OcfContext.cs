using Microsoft.Extensions.Logging;

namespace KvmOcf.Ocf;

/// <summary>Everything an action handler gets: the action, typed parameter values, meta
/// attributes, the logger and the deadline every wait must respect.</summary>
public sealed class OcfContext
{
    private readonly ResourceAgent _agent;
    private Cluster? _cluster;

    internal OcfContext(ResourceAgent agent, string action, OcfEnvironment environment, ILogger log, TimeSpan timeout, Deadline deadline)
    {
        _agent = agent;
        Action = action;
        Environment = environment;
        Log = log;
        Timeout = timeout;
        Deadline = deadline;
    }

    public string Action { get; }
    public OcfEnvironment Environment { get; }
    public MetaAttributes Meta => Environment.Meta;
    public ILogger Log { get; }
    /// <summary>The operation timeout pacemaker enforces (or the declared default when run by hand).</summary>
    public TimeSpan Timeout { get; }
    /// <summary>When this action must be done: the timeout minus a margin to report in.</summary>
    public Deadline Deadline { get; }
    public string Instance => Environment.ResourceInstance;
    public string AgentName => _agent.Name;
    public int CheckLevel => Environment.CheckLevel;

    /// <summary>A monitor with interval 0: pacemaker asking "is it running here?" before it acts.</summary>
    public bool IsProbe => Action == "monitor" && Meta.Interval == TimeSpan.Zero;

    /// <summary>Helpers for pacemaker's command-line tools, bounded by this action's deadline.</summary>
    public Cluster Cluster => _cluster ??= new Cluster(this);

    /// <summary>The parameter's value, or its default when unset or empty. An invalid value fails
    /// the action (OCF_ERR_CONFIGURED, which <see cref="ExitCodeRules"/> makes 1 outside start and
    /// validate-all): an action may never go on with a value that its parameter refuses.</summary>
    public T Get<T>(Parameter<T> parameter)
    {
        if (RawValue(parameter) is not { } text) return parameter.Default;
        // only start and validate-all refuse every invalid value up front: check each one read
        if (parameter.Problem(text) is { } problem || !parameter.TryParse(text, out var value, out problem))
            throw new OcfException(OcfExitCode.ErrConfigured, Describe(parameter, text, problem));
        return value;
    }

    /// <summary>Whether the parameter (or one of its former names) was given a non-empty value.</summary>
    public bool IsSet(Parameter parameter) => RawValue(parameter) is not null;

    /// <summary>Runs a command bounded by this action's deadline (and by <paramref name="atMost"/>
    /// from now, when given); a command still running then is killed and the action fails.</summary>
    public CommandResult Run(Command command, TimeSpan? atMost = null) => command.Run(Within(atMost), Log);

    /// <summary>As <see cref="Run"/>, but a command that does not finish in time is an answer
    /// (null), not a failure of the action.</summary>
    public CommandResult? TryRun(Command command, TimeSpan? atMost = null) => command.TryRun(Within(atMost), Log);

    private Deadline Within(TimeSpan? atMost) => atMost is { } max ? Deadline.AtMost(max) : Deadline;

    /// <summary>OCF passes each parameter as <c>OCF_RESKEY_&lt;name&gt;</c>.</summary>
    public static string EnvironmentName(Parameter parameter) => "OCF_RESKEY_" + parameter.Name;

    internal string? RawValue(Parameter parameter)
    {
        if (Environment.NonEmpty(EnvironmentName(parameter)) is { } value) return value;
        foreach (var former in parameter.FormerNames)
            if (Environment.NonEmpty("OCF_RESKEY_" + former) is { } old) return old;
        return null;
    }

    /// <summary>The first required parameter that is not set, as a one-line reason, or null.</summary>
    internal string? MissingRequired() =>
        _agent.Parameters.FirstOrDefault(p => p.Required && !IsNotUtf8(p) && RawValue(p) is null) is { } missing
            ? $"required parameter '{missing.Name}' is not set" : null;

    private bool IsNotUtf8(Parameter parameter) =>
        parameter.FormerNames.Prepend(parameter.Name).Any(name => Environment.IsNotUtf8("OCF_RESKEY_" + name));

    /// <summary>Checks every value given; the first problem, as a one-line reason, or null.</summary>
    internal string? InvalidValue()
    {
        foreach (var parameter in _agent.Parameters)
        {
            foreach (var name in parameter.FormerNames.Prepend(parameter.Name))
                if (Environment.IsNotUtf8("OCF_RESKEY_" + name))
                    return $"parameter '{name}': value is not valid UTF-8";

            if (RawValue(parameter) is not { } text) continue;
            if (parameter.Problem(text) is { } problem) return Describe(parameter, text, problem);

            if (Environment.NonEmpty(EnvironmentName(parameter)) is null)
                Log.LogWarning("parameter '{Former}' is deprecated; use '{Name}'",
                    parameter.FormerNames.First(f => Environment.NonEmpty("OCF_RESKEY_" + f) is not null), parameter.Name);
            else if (parameter.Deprecated is { } advice)
                Log.LogWarning("parameter '{Name}' is deprecated: {Advice}", parameter.Name, advice);
        }
        return null;
    }

    private static string Describe(Parameter parameter, string text, string problem) =>
        parameter.Secret
            ? $"parameter '{parameter.Name}': the value {problem}"
            : $"parameter '{parameter.Name}': {OneLine.Quote(text)} {problem}";
}
