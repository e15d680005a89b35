namespace KvmOcf.Ocf;

/// <summary>An OCF resource agent, declared once: its parameters and actions. The runtime derives
/// the meta-data XML, the validation of the environment and the usage text from this declaration,
/// and dispatches the action pacemaker asked for to its handler.</summary>
public abstract class ResourceAgent
{
    /// <summary>The agent's type name, as in <c>ocf:kvmocf:&lt;Name&gt;</c>.</summary>
    public abstract string Name { get; }
    public abstract string ShortDescription { get; }
    public abstract string LongDescription { get; }
    /// <summary>The agent's own version (not the OCF API version, which is always 1.1).</summary>
    public virtual string Version => BuildInfo.Version;

    public abstract IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>The actions this agent implements. Each entry is also a default operation that
    /// <c>pcs resource create</c> copies into the CIB, so list what a resource should run with.
    /// meta-data and validate-all are provided by the runtime.</summary>
    public abstract IReadOnlyList<OcfAction> Actions { get; }

    /// <summary>Checks rules between parameters that hold everywhere (e.g. two options that exclude
    /// each other). Runs before every action, after each parameter's own check; a failure is
    /// OCF_ERR_CONFIGURED. Must not look at the host.</summary>
    public virtual OcfResult ValidateConfiguration(OcfContext context) => OcfResult.Success;

    /// <summary>Checks what must hold on this host (files, tools, daemons) beyond the parameters'
    /// syntax. validate-all runs it at OCF_CHECK_LEVEL ≥ 10 only, so that validating a
    /// configuration on a node that lacks the environment (pcs --agent-validation) does not fail.</summary>
    public virtual OcfResult ValidateHost(OcfContext context) => OcfResult.Success;
}

/// <summary>An action the agent implements, with the defaults pcs uses for the operation.</summary>
public sealed record OcfAction(string Name, TimeSpan Timeout, Func<OcfContext, OcfResult> Handler)
{
    public TimeSpan? Interval { get; init; }
    public int? Depth { get; init; }
    /// <summary>"Promoted" or "Unpromoted", for role-specific monitors of promotable clones.</summary>
    public string? Role { get; init; }
    public TimeSpan? StartDelay { get; init; }

    /// <summary>What an operation of it is declared with, as metadata, usage and man page all show it.</summary>
    public IEnumerable<(string Name, string Value)> Facts()
    {
        yield return ("timeout", TimeParameter.FormatDuration(Timeout));
        if (Interval is { } i) yield return ("interval", TimeParameter.FormatDuration(i));
        if (StartDelay is { } s) yield return ("start-delay", TimeParameter.FormatDuration(s));
        if (Depth is { } d) yield return ("depth", d.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (Role is { } r) yield return ("role", r);
    }
}

/// <summary>The actions every agent answers without declaring them, and the whole list the
/// renderers (metadata, usage, man page) show: the agent's own, then these.</summary>
public static class BuiltInActions
{
    /// <summary>Handled by the runtime itself; its handler is never called.</summary>
    public static readonly OcfAction MetaData = new("meta-data", TimeSpan.FromSeconds(5), _ => OcfResult.Success);
    /// <summary>Parameters at depth 0, and the agent's ValidateHost at OCF_CHECK_LEVEL ≥ 10.</summary>
    public static readonly OcfAction ValidateAll = new("validate-all", TimeSpan.FromSeconds(20), _ => OcfResult.Success);

    public static IReadOnlyList<OcfAction> Of(ResourceAgent agent) =>
        [.. agent.Actions, .. new[] { MetaData, ValidateAll }.Where(b => agent.Actions.All(a => a.Name != b.Name))];
}
