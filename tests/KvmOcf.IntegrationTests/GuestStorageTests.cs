using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using KvmOcf.IntegrationTests.Harness;
using Xunit.Abstractions;

namespace KvmOcf.IntegrationTests;

/// <summary>The seeds' own test, automated: a QEMU guest whose disk image lives on a three-node
/// GlusterFS volume (mounted by ocf:kvmocf:GlusterMount) keeps running, and keeps writing, while one
/// storage node is suspended. The worst write stall is reported (build/test-logs/guest-storage-stall.txt).</summary>
[Collection(GuestStorageCollection.Name)]
[Trait("Stack", "gluster")]
public sealed class GuestStorageTests(LibvirtDaemon libvirt, GlusterThreeNodes gluster, ITestOutputHelper output) : IDisposable
{
    private readonly GlusterMountUnderTest _store = new();
    private readonly string _rsctmp = Directory.CreateTempSubdirectory("kvmocf-gs-").FullName;
    private TestDomain? _guest;
    private string MountPoint => _store.MountPoint;

    private AgentRun Mount(string action) =>
        _store.Run(gluster, action, new() { ["OCF_RESOURCE_INSTANCE"] = "vmstore" }, timeout: TimeSpan.FromSeconds(30));

    private AgentRun Guest(string action, Dictionary<string, string>? more = null) =>
        VirtualDomainAgent.Run(_guest!, action, TimeSpan.FromSeconds(60), _rsctmp, more: more);

    /// <summary>Mounts the volume and defines a guest (no guest agent) whose disk image lives on it.</summary>
    [MemberNotNull(nameof(_guest))]
    private void GuestOnTheVolume(string kernelArguments = "")
    {
        Assert.Equal(0, Mount("start").Code);
        var image = Path.Combine(MountPoint, "guest.img");
        Sh.Ok("truncate", "-s", "16M", image);
        _guest = new TestDomain($"kvmocf-gs-{Guid.NewGuid().ToString()[..6]}", libvirt.WorkDirectory, libvirt.GuestDirectory, TestDomain.Kind.BusyboxNoAgent,
            extraDevices: TestDomain.RawDisk(image), kernelArguments: kernelArguments);
    }

    public void Dispose()
    {
        gluster.ResumeAll();
        if (_guest is not null) libvirt.Virsh("destroy", _guest.Name);
        Mount("stop");
        _store.Dispose();
        gluster.Heal();
        Directory.Delete(_rsctmp, recursive: true);
    }

    [Fact]
    public void A_guest_on_the_volume_keeps_running_and_writing_while_a_storage_node_is_suspended()
    {
        GuestOnTheVolume(kernelArguments: "disk=write");
        var start = Guest("start");
        Assert.True(start.Code == 0, start.ToString());
        Assert.True(Sh.Eventually(() => Writes().Count >= 10, TimeSpan.FromSeconds(90)), "the guest does not write to its disk");

        var before = Writes().Count;
        gluster.Suspend(2);
        Thread.Sleep(TimeSpan.FromSeconds(12));
        gluster.Resume(2);
        Assert.True(Sh.Eventually(() => Writes().Count >= before + 40, TimeSpan.FromSeconds(60)), "the guest stopped writing");

        var writes = Writes();
        Assert.DoesNotContain(Console(), l => l.StartsWith("GUEST: WRITE-FAIL"));
        Assert.Equal(0, Guest("monitor", new() { ["OCF_RESKEY_CRM_meta_interval"] = "10000" }).Code);
        Assert.Single(_guest.QemuPids());
        // a stall is the longest write, or the longest gap between the starts of two writes
        var longestWrite = writes.Max(w => w.Milliseconds);
        var longestGap = writes.Zip(writes.Skip(1), (a, b) => (b.Start - a.Start) * 1000).Max();
        var report = $"worst stall while 1 of 3 storage nodes was suspended for 12 s (network.ping-timeout 5 s): " +
                     $"longest write {longestWrite} ms, longest gap between writes {longestGap:0} ms, {writes.Count} writes, no errors";
        output.WriteLine(report);
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(Repo.Build, "test-logs")).FullName, "guest-storage-stall.txt"), report + "\n");
        Assert.Equal(0, Guest("stop", new() { ["force_stop"] = "true" }).Code);
    }

    [Fact]
    public void Stopping_the_mount_under_a_running_guest_ends_its_qemu_in_libvirts_mount_namespace()
    {
        // Normally pacemaker stops the guest first; if it has not, qemu holds the image through
        // libvirt's private mount namespace (another mount ID, the same filesystem) and a stop that
        // misses it would detach the mount and say "stopped" while qemu still writes.
        GuestOnTheVolume();
        Assert.Equal(0, Guest("start").Code);
        var qemu = Assert.Single(_guest.QemuPids());
        var qemuProcess = HostProcess.Of(qemu)!.Value;
        Assert.NotEqual(new FileInfo("/proc/self/ns/mnt").LinkTarget,
            new FileInfo($"/proc/{qemu}/ns/mnt").LinkTarget);                       // libvirt's own namespace for qemu

        var stop = Mount("stop");
        Assert.True(stop.Code == 0, stop.ToString());
        Assert.Contains($"to process {qemu} (qemu", stop.Stderr);
        Assert.False(_store.Mounted());
        Assert.True(Sh.Eventually(() => !qemuProcess.Alive, TimeSpan.FromSeconds(10)), "qemu still runs");
    }

    private List<string> Console()
    {
        try { return File.ReadAllLines(_guest!.ConsolePath).ToList(); } catch (IOException) { return []; }
    }

    private List<(double Start, int Milliseconds)> Writes() =>
        Console().Where(l => l.StartsWith("GUEST: WRITE ")).Select(l => l.Split(' '))
            .Where(f => f.Length == 4)
            .Select(f => (double.Parse(f[2], CultureInfo.InvariantCulture), int.Parse(f[3], CultureInfo.InvariantCulture)))
            .ToList();
}

[CollectionDefinition(Name)]
public sealed class GuestStorageCollection : ICollectionFixture<LibvirtDaemon>, ICollectionFixture<GlusterThreeNodes>
{
    public const string Name = "guest storage";
}
