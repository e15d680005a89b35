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

    public override string Name => "fence_fake";
    public override string ShortDescription => "Fake fence device";
    public override string LongDescription => "For the runtime's unit tests.";
    public override IReadOnlyList<FenceOption> Options =>
    [
        .. StandardOptions.Common, StandardOptions.Plug, StandardOptions.PlugSeparator, StandardOptions.Ip, StandardOptions.Username,
        StandardOptions.Password, StandardOptions.PasswordScript, StandardOptions.Method, StandardOptions.Separator, StandardOptions.MissingAsOff,
    ];

    public override PowerState Status(FenceContext ctx, string plug)
    {
        Calls.Add($"status {plug}");
        SeenPassword = ctx.Password;
        return Plugs.TryGetValue(plug, out var s) ? s : PowerState.Missing;
    }

    public override void SetPower(FenceContext ctx, string plug, bool on)
    {
        Calls.Add($"{(on ? "on" : "off")} {plug}");
        if (on && CannotPowerOn) throw new OperationException(FailureKind.Failed, "the device refused to power on");
        if (!IgnoresCommands && Plugs.ContainsKey(plug)) Plugs[plug] = on ? PowerState.On : PowerState.Off;
    }

    public override IEnumerable<Outlet>? List(FenceContext ctx) => Plugs.Select(p => new Outlet(p.Key, p.Key + "-alias", p.Value));
}
