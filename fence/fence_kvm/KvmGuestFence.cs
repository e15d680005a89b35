using KvmOcf.Libvirt;
using Microsoft.Extensions.Logging;

namespace KvmOcf.Fence.Kvm;

/// <summary>fence_kvm — fences a KVM guest through libvirt on every hypervisor it may run on: no ssh
/// and prompt scraping (fence_virsh), no multicast daemon on each host (fence_xvm). A guest is
/// found wherever it runs (after a live migration too) and fenced on every host that runs it (two
/// copies after a botched migration are both destroyed). Off means every host answered and none
/// runs it; a host that does not answer leaves the state unknown — never off — unless
/// missing_as_off says an unreachable host counts as not running the guest.</summary>
public sealed class KvmGuestFence : FenceAgent
{
    public static readonly StringParameter Uris = new("uri")
    {
        Required = true,
        ShortDescription = "libvirt URIs of the hypervisors the guests may run on, separated by spaces or commas",
        LongDescription = "e.g. qemu+tls://host1/system qemu+tls://host2/system (or qemu+ssh://, qemu+tcp://, qemu:///system).",
        Check = u => u.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries).All(x => x.Contains(":/")) ? null : "is not a list of libvirt URIs",
    };

    public static readonly TimeParameter HostTimeout = new("host_timeout")
    {
        Default = TimeSpan.FromSeconds(10), Minimum = TimeSpan.FromSeconds(1), Maximum = TimeSpan.FromMinutes(5),
        ShortDescription = "How long a hypervisor has to answer each call",
        LongDescription = "A hypervisor that has not answered by then counts as unreachable.",
    };

    public override string Name => "fence_kvm";
    public override string ShortDescription => "Fence agent for KVM guests through libvirt, on every hypervisor at once";
    public override string LongDescription =>
        "fence_kvm fences a KVM guest (a libvirt domain, by name or UUID) through the libvirt API on each of the hypervisors " +
        "listed in uri: status, off (destroy), on (start of a persistent definition) and list across all of them, so a guest " +
        "is found after a live migration, and one that runs on two hosts at once is destroyed on both. A hypervisor that does " +
        "not answer makes the status unknown, never off, and so does a name no hypervisor knows (unless missing_as_off).";

    public override IReadOnlyList<FenceOption> Options =>
    [
        .. StandardOptions.Common, StandardOptions.Plug, StandardOptions.PlugSeparator, StandardOptions.Separator,
        StandardOptions.MissingAsOff, new FenceOption(Uris, 'U'), new FenceOption(HostTimeout),
    ];

    private readonly Dictionary<string, Hypervisor> _connections = [];

    private static IEnumerable<string> HypervisorUris(FenceContext ctx) =>
        ctx.Get(Uris).Split([' ', ','], StringSplitOptions.RemoveEmptyEntries).Distinct();

    private Deadline Call(FenceContext ctx) => ctx.Deadline.AtMost(ctx.Get(HostTimeout));

    private Hypervisor Connection(FenceContext ctx, string uri)
    {
        if (!_connections.TryGetValue(uri, out var connection)) _connections[uri] = connection = Hypervisor.Connect(uri, Call(ctx));
        return connection;
    }

    /// <summary>The guest's state on each hypervisor: its state there, null where it is not
    /// defined, or the reason the hypervisor could not be asked.</summary>
    private List<(string Uri, DomainState? State, string? Unreachable)> Survey(FenceContext ctx, string plug)
    {
        var id = DomainId.Parse(plug);
        var survey = new List<(string, DomainState?, string?)>();
        foreach (var uri in HypervisorUris(ctx))
        {
            try
            {
                using var domain = Connection(ctx, uri).Lookup(id, Call(ctx));
                survey.Add((uri, domain?.State(Call(ctx)).State, null));
            }
            catch (OperationException e)
            {
                _connections.Remove(uri);
                ctx.Log.LogWarning("{Uri}: {Reason}", uri, e.Reason);
                survey.Add((uri, null, e.Reason));
            }
        }
        return survey;
    }

    private static bool Runs(DomainState? state) => state is not (null or DomainState.Shutoff or DomainState.Crashed);

    /// <summary>Guests this run has seen on some hypervisor: one that then disappears from all of
    /// them was transient (started from XML) and has been destroyed, so it is off.</summary>
    private readonly HashSet<string> _seen = [];

    /// <summary>On where any hypervisor runs it. Off only when every hypervisor answered, none runs
    /// it, and one has it defined (or this run saw it before it vanished); a name no hypervisor
    /// knows is missing (a wrong plug must never pass for a fenced guest), off only with missing_as_off.</summary>
    public override PowerState Status(FenceContext ctx, string plug)
    {
        var survey = Survey(ctx, plug);
        if (survey.Any(s => s.State is not null)) _seen.Add(plug);
        if (survey.Any(s => Runs(s.State))) return PowerState.On;
        if (survey.FirstOrDefault(s => s.Unreachable is not null) is { Uri: { } uri, Unreachable: { } why } && !ctx.Get<bool>(StandardOptions.MissingAsOff))
            throw new OperationException(FailureKind.Unreachable, $"{plug} runs on no hypervisor that answered, and {uri} did not answer: {why}");
        return _seen.Contains(plug) ? PowerState.Off : PowerState.Missing;
    }

    public override void SetPower(FenceContext ctx, string plug, bool on)
    {
        var id = DomainId.Parse(plug);
        if (!on)
        {
            // every copy is destroyed, whatever happens to another: one host's failure must not spare the next
            var failures = new List<string>();
            foreach (var (uri, state, _) in Survey(ctx, plug).Where(s => Runs(s.State)))
            {
                ctx.Log.LogInformation("destroying {Guest} on {Uri} ({State})", plug, uri, state);
                try
                {
                    using var domain = Connection(ctx, uri).Lookup(id, Call(ctx));
                    domain?.Destroy(0, Call(ctx));
                }
                catch (LibvirtException e) when (e.ErrorCode is LibvirtNative.ERR_OPERATION_INVALID or LibvirtNative.ERR_NO_DOMAIN) { } // stopped meanwhile
                catch (OperationException e)
                {
                    _connections.Remove(uri);
                    failures.Add($"{uri}: {e.Reason}");
                }
            }
            if (failures.Count > 0) throw new OperationException(FailureKind.Failed, $"could not destroy {plug} on {string.Join("; ", failures)}");
            return;
        }
        var survey = Survey(ctx, plug);
        if (survey.Any(s => Runs(s.State))) return;
        // a guest defined on several hosts starts on the first that has it (the list's order is the admin's preference)
        var where = survey.FirstOrDefault(s => s.State is DomainState.Shutoff or DomainState.Crashed).Uri
            ?? throw new OperationException(FailureKind.Failed, $"cannot power on {plug}: no hypervisor has a definition of it");
        ctx.Log.LogInformation("starting {Guest} on {Uri}", plug, where);
        using var defined = Connection(ctx, where).Lookup(id, Call(ctx));
        defined?.Start(Call(ctx));
    }

    public override IEnumerable<Outlet>? List(FenceContext ctx)
    {
        var guests = new Dictionary<string, (string Uuid, bool Running)>();
        int answered = 0;
        foreach (var uri in HypervisorUris(ctx))
        {
            try
            {
                foreach (var (name, uuid, state) in Connection(ctx, uri).ListDomains(Call(ctx)))
                    guests[name] = (uuid, Runs(state) || guests.GetValueOrDefault(name).Running);
                answered++;
            }
            catch (OperationException e) { ctx.Log.LogWarning("{Uri}: {Reason}", uri, e.Reason); }
        }
        if (answered == 0) throw new OperationException(FailureKind.Unreachable, "no hypervisor answered");
        return guests.OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new Outlet(g.Key, g.Value.Uuid, g.Value.Running ? PowerState.On : PowerState.Off));
    }
}
