using KvmOcf.Fence;

namespace KvmOcf.Tests;

/// <summary>A fence device in memory, for the runtime's decision logic only: plugs with a power
/// state, a device that can be told to ignore commands or to forget a plug.</summary>
internal sealed class FakeFenceAgent : FenceAgent
{
    public Dictionary<string, PowerState> Plugs { get; } = new() { ["vm1"] = PowerState.On, ["vm2"] = PowerState.Off };
    public List<string> Calls { get; } = [];
    /// <summary>The password the device was given (read from the context on every status).</summary>
    public string? SeenPassword { get; private set; }
    /// <summary>The device accepts power commands but nothing happens (a stuck relay).</summary>
    public bool IgnoresCommands { get; set; }
    /// <summary>Power on fails every time (the off part of a reboot still counts).</summary>
    public bool CannotPowerOn { get; set; }
    /// <summary>After a power cycle the plug shows off for this many status calls, then on again;
    /// null: the device acknowledges a cycle and does nothing.</summary>
    public int? CycleOffFor { get; set; } = 2;
    /// <summary>The next status calls after a power command fail (a device that does not answer for a moment).</summary>
    public int FailuresAfterCommand { get; set; }
    private int _offLeft, _failuresLeft;

    public override string Name => "fence_fake";
    public override string ShortDescription => "Fake fence device";
    public override string LongDescription => "For the runtime's unit tests.";
    /// <summary>Declares plug as required (<c>Plug with { Required = true }</c>), as a fabric fencing agent does.</summary>
    public bool PlugRequired { get; init; }

    /// <summary>Declares only the common options and the plug (no method, separator, missing_as_off …).</summary>
    public bool Minimal { get; init; }

    public override IReadOnlyList<FenceOption> Options => Minimal ? [.. StandardOptions.Common, StandardOptions.Plug] :
    [
        .. StandardOptions.Common, PlugRequired ? StandardOptions.Plug with { Required = true } : StandardOptions.Plug, StandardOptions.PlugSeparator, StandardOptions.Ip, StandardOptions.Username,
        StandardOptions.Password, StandardOptions.PasswordScript, StandardOptions.Method, StandardOptions.Separator, StandardOptions.MissingAsOff,
    ];

    public override PowerState Status(FenceContext ctx, string plug)
    {
        Calls.Add($"status {plug}");
        SeenPassword = ctx.Password;
        if (_failuresLeft > 0 && _failuresLeft-- > 0) throw new OperationException(FailureKind.Unreachable, "the device did not answer");
        if (_offLeft > 0 && --_offLeft == 0) Plugs[plug] = PowerState.On;
        return Plugs.TryGetValue(plug, out var s) ? s : PowerState.Missing;
    }

    public override void SetPower(FenceContext ctx, string plug, bool on)
    {
        Calls.Add($"{(on ? "on" : "off")} {plug}");
        _failuresLeft = FailuresAfterCommand;
        if (on && CannotPowerOn) throw new OperationException(FailureKind.Failed, "the device refused to power on");
        if (!IgnoresCommands && Plugs.ContainsKey(plug)) Plugs[plug] = on ? PowerState.On : PowerState.Off;
    }

    public override Action<FenceContext, string>? Cycle => (_, plug) =>
    {
        Calls.Add($"cycle {plug}");
        if (CycleOffFor is not { } polls || !Plugs.ContainsKey(plug)) return;
        Plugs[plug] = PowerState.Off;
        _offLeft = polls + 1;
    };

    public override IEnumerable<Outlet>? List(FenceContext ctx) => Plugs.Select(p => new Outlet(p.Key, p.Key + "-alias", p.Value));
}
