using System.Runtime.InteropServices;

namespace KvmOcf.Libvirt;

/// <summary>A domain handle on a <see cref="Hypervisor"/>; every call bounded like the connection's.</summary>
public sealed unsafe class Domain(Hypervisor hypervisor, nint handle, DomainId id) : IDisposable
{
    public DomainId Id { get; } = id;
    public Hypervisor Hypervisor { get; } = hypervisor;
    internal nint Handle => handle;

    public (DomainState State, int Reason) State(Deadline deadline) => Hypervisor.Bounded($"getting the state of {Id}", deadline, () =>
    {
        int state, reason;
        Hypervisor.Check(LibvirtNative.DomainGetState(handle, &state, &reason, 0), $"getting the state of {Id}");
        return ((DomainState)state, reason);
    });

    public LibvirtNative.DomainInfo Info(Deadline deadline) => Hypervisor.Bounded($"getting information on {Id}", deadline, () =>
    {
        LibvirtNative.DomainInfo info;
        Hypervisor.Check(LibvirtNative.DomainGetInfo(handle, &info), $"getting information on {Id}");
        return info;
    });

    public bool IsPersistent(Deadline deadline) =>
        Hypervisor.Bounded($"checking whether {Id} is persistent", deadline, () => Hypervisor.Check(LibvirtNative.DomainIsPersistent(handle), $"checking {Id}") == 1);

    public void Start(Deadline deadline) => Run($"starting {Id}", deadline, () => LibvirtNative.DomainCreate(handle));
    public void Shutdown(uint flags, Deadline deadline) => Run($"shutting down {Id}", deadline, () => LibvirtNative.DomainShutdownFlags(handle, flags));
    public void Destroy(uint flags, Deadline deadline) => Run($"destroying {Id}", deadline, () => LibvirtNative.DomainDestroyFlags(handle, flags));
    public void Undefine(uint flags, Deadline deadline) => Run($"undefining {Id}", deadline, () => LibvirtNative.DomainUndefineFlags(handle, flags));
    public void Save(string file, Deadline deadline) => Run($"saving {Id} to {file}", deadline, () => LibvirtNative.DomainSaveFlags(handle, file, null, 0));
    public void AbortJob(Deadline deadline) => Run($"aborting the job of {Id}", deadline, () => LibvirtNative.DomainAbortJob(handle));
    public void SetMaxDowntime(TimeSpan downtime, Deadline deadline) =>
        Run($"setting the maximum downtime of {Id}", deadline, () => LibvirtNative.DomainMigrateSetMaxDowntime(handle, (ulong)downtime.TotalMilliseconds, 0));
    public void StartPostCopy(Deadline deadline) => Run($"switching {Id} to post-copy", deadline, () => LibvirtNative.DomainMigrateStartPostCopy(handle, 0));

    public string XmlDescription(uint flags, Deadline deadline) => Hypervisor.Bounded($"reading the XML of {Id}", deadline, () =>
        LibvirtNative.TakeString((byte*)Hypervisor.Check((nint)LibvirtNative.DomainGetXmlDesc(handle, flags), $"reading the XML of {Id}"))!);

    public LibvirtNative.JobInfo JobInfo(Deadline deadline) => Hypervisor.Bounded($"reading the job of {Id}", deadline, () =>
    {
        LibvirtNative.JobInfo info;
        Hypervisor.Check(LibvirtNative.DomainGetJobInfo(handle, &info), $"reading the job of {Id}");
        return info;
    });

    /// <summary>Sends a command to the guest agent; its JSON reply.</summary>
    public string GuestAgentCommand(string json, TimeSpan timeout, Deadline deadline) => Hypervisor.Bounded($"asking the guest agent of {Id}", deadline, () =>
    {
        var reply = LibvirtNative.DomainQemuAgentCommand(handle, json, Math.Max(1, (int)timeout.TotalSeconds), 0);
        return LibvirtNative.TakeString((byte*)Hypervisor.Check((nint)reply, $"guest agent of {Id}"))!;
    });

    private void Run(string what, Deadline deadline, Func<int> call) =>
        Hypervisor.Bounded(what, deadline, () => Hypervisor.Check(call(), what));

    public void Dispose() => LibvirtNative.DomainFree(handle);
}
