namespace KvmOcf.Fence;

/// <summary>What a plug's power is. <see cref="Missing"/>: the device does not know the plug — off
/// only when the admin said so (missing_as_off), else a failure. <see cref="Unknown"/> is never off.</summary>
public enum PowerState { On, Off, Unknown, Missing }

/// <summary>One line of list / list-status.</summary>
public sealed record Outlet(string Id, string Alias, PowerState State);

/// <summary>A fence agent, in fencing.py's shape: its options and three callbacks (get status, set
/// status, list). The runtime owns the rest of the fence-agents contract: stdin or getopt input,
/// actions, delay, verification after every power change, retries, metadata, man page, exit codes.</summary>
public abstract class FenceAgent
{
    /// <summary>The binary's name, <c>fence_…</c>.</summary>
    public abstract string Name { get; }
    public abstract string ShortDescription { get; }
    public abstract string LongDescription { get; }
    public virtual string VendorUrl => "https://github.com/kvmocf/kvmocf";

    /// <summary>The agent's options: usually <see cref="StandardOptions.Common"/> and the standard ones
    /// it needs (plug, ip, username, password …), then its own.</summary>
    public abstract IReadOnlyList<FenceOption> Options { get; }

    /// <summary>Whether it fences a plug among several (list, list-status and the plug option apply).</summary>
    public virtual bool HasPlugs => Has(StandardOptions.Plug);

    /// <summary>Whether the agent takes the option, however it declared it (e.g. <c>Plug with { Required = true }</c>).</summary>
    public bool Has(FenceOption option) => Options.Any(o => o.Parameter == option.Parameter);

    /// <summary>Fabric fencing (cutting a node off its storage) has no reboot, and its default action is off.</summary>
    public virtual bool Reboots => true;

    /// <summary>"on" is unfencing, which pacemaker runs by itself when a node joins (metadata
    /// <c>automatic="1"</c>; resources then need <c>requires=unfencing</c>).</summary>
    public virtual bool UnfencesAutomatically => false;

    /// <summary>The plug's power, as the device says it now.</summary>
    public abstract PowerState Status(FenceContext ctx, string plug);

    /// <summary>Asks the device to power the plug on or off; the runtime verifies the result.</summary>
    public abstract void SetPower(FenceContext ctx, string plug, bool on);

    /// <summary>Every plug the device knows, or null when it cannot list them.</summary>
    public virtual IEnumerable<Outlet>? List(FenceContext ctx) => null;

    /// <summary>The device's own power cycle for reboot with method=cycle; null when it has none.
    /// The runtime verifies the plug is on afterwards.</summary>
    public virtual Action<FenceContext, string>? Cycle => null;

    /// <summary>Checks what the options alone cannot (validate-all, and before every action): null
    /// when all is well, else the one-line problem.</summary>
    public virtual string? Validate(FenceContext ctx) => null;
}
