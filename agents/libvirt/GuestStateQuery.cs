
namespace KvmOcf.Libvirt;

/// <summary>The one seam between "ask libvirt about a guest" and how it is asked: over the RPC
/// socket where the hypervisor URI is a local qemu:///system (no libvirt.so, ~1 ms), else through
/// libvirt.so. A daemon that cannot be reached or does not answer is
/// <see cref="PeerUnreachableException"/> either way.</summary>
public static class GuestStateQuery
{
    /// <summary>The guest's state, or null when libvirt does not know it (also when it vanished
    /// between the lookup and the question, as a guest that is just shutting down does).</summary>
    public static GuestState? Query(string uri, DomainId id, bool withInfo, Deadline deadline)
    {
        try { return Ask(uri, id, withInfo, deadline); }
        catch (RpcError e) when (e.ErrorCode == LibvirtNative.ERR_NO_DOMAIN) { return null; }
        catch (LibvirtException e) when (e.ErrorCode == LibvirtNative.ERR_NO_DOMAIN) { return null; }
    }

    private static GuestState? Ask(string uri, DomainId id, bool withInfo, Deadline deadline)
    {
        if (RpcClient.SocketFor(uri) is { } socket)
        {
            using var client = RpcClient.Open(socket, deadline);
            if (client.Lookup(id, deadline) is not { } domain) return null;
            var (state, reason) = client.GetState(domain, deadline);
            var (cpus, maxMem) = withInfo && state != DomainState.Shutoff ? client.GetInfo(domain, deadline) : (0, 0UL);
            return new GuestState(state, reason, cpus, (long)maxMem);
        }
        using var hypervisor = Hypervisor.Connect(uri, deadline);
        using var guest = hypervisor.Lookup(id, deadline);
        if (guest is null) return null;
        var (s, r) = guest.State(deadline);
        var info = withInfo && s != DomainState.Shutoff ? guest.Info(deadline) : default;
        return new GuestState(s, r, info.VirtCpus, (long)info.MaxMemKiB);
    }

    /// <summary>Pings the guest agent; null when it answered, else why it did not.</summary>
    public static string? PingGuestAgent(string uri, DomainId id, TimeSpan timeout, Deadline deadline)
    {
        const string Ping = "{\"execute\":\"guest-ping\"}";
        try
        {
            if (RpcClient.SocketFor(uri) is { } socket)
            {
                using var client = RpcClient.Open(socket, deadline);
                var domain = client.Lookup(id, deadline) ?? throw new OperationException(FailureKind.Failed, $"domain {id} vanished");
                client.GuestAgentCommand(domain, Ping, (int)Math.Ceiling(timeout.TotalSeconds), deadline);
                return null;
            }
            using var hypervisor = Hypervisor.Connect(uri, deadline);
            using var guest = hypervisor.Lookup(id, deadline) ?? throw new OperationException(FailureKind.Failed, $"domain {id} vanished");
            guest.GuestAgentCommand(Ping, timeout, deadline);
            return null;
        }
        catch (RpcError e) { return e.Reason; }
        catch (LibvirtException e) { return e.Reason; }
    }
}
