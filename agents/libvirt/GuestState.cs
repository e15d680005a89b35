namespace KvmOcf.Libvirt;

/// <summary>What libvirt says about a guest right now.</summary>
public sealed record GuestState(DomainState State, int Reason, int VirtCpus, long MaxMemoryKiB)
{
    public const int PausedIoError = 5;
}
