using System.Globalization;

namespace KvmOcf.IntegrationTests.Harness;

/// <summary>A test guest's domain XML and console: the busybox guest (honours ACPI shutdown; its
/// guest agent answers, stays silent, or is absent) or a firmware-only guest that ignores ACPI.</summary>
public sealed class TestDomain
{
    public enum Kind { Busybox, BusyboxSilentAgent, BusyboxNoAgent, FirmwareOnly }

    public string Name { get; }
    public string ConfigPath { get; }
    public string ConsolePath { get; }

    public TestDomain(string name, string directory, string guestDirectory, Kind kind = Kind.Busybox, int memoryMiB = 96,
        string extraDevices = "", string kernelArguments = "")
    {
        Name = name;
        ConfigPath = Path.Combine(directory, name + ".xml");
        ConsolePath = Path.Combine(directory, name + ".console");
        File.WriteAllText(ConfigPath, Xml(kind, guestDirectory, memoryMiB, extraDevices, kernelArguments));
    }

    private string Xml(Kind kind, string guest, int memoryMiB, string extraDevices, string kernelArguments)
    {
        var os = kind == Kind.FirmwareOnly
            ? "<type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/>"
            : $"""
              <type arch='x86_64' machine='pc'>hvm</type>
                  <kernel>{guest}/vmlinuz</kernel>
                  <initrd>{guest}/initrd.gz</initrd>
                  <cmdline>console=ttyS0 panic=-1 loglevel=4 ga={(kind == Kind.BusyboxSilentAgent ? "silent" : "answer")} {kernelArguments}</cmdline>
              """;
        var agent = kind is Kind.Busybox or Kind.BusyboxSilentAgent
            ? "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>" : "";
        return $"""
            <domain type='qemu'>
              <name>{Name}</name>
              <memory unit='MiB'>{memoryMiB}</memory>
              <vcpu>1</vcpu>
              <os>
                {os}
              </os>
              <features><acpi/></features>
              <on_poweroff>destroy</on_poweroff>
              <on_reboot>restart</on_reboot>
              <on_crash>destroy</on_crash>
              <devices>
                <emulator>/usr/bin/qemu-system-x86_64</emulator>
                <serial type='file'><source path='{ConsolePath}' append='on'/><target port='0'/></serial>
                {agent}
                {extraDevices}
                <memballoon model='none'/>
              </devices>
            </domain>
            """;
    }

    /// <summary>A raw image file as the guest's disk vda, for <c>extraDevices</c> (with the
    /// <paramref name="errorPolicy"/> QEMU follows when the disk fails, where given).</summary>
    public static string RawDisk(string image, string? errorPolicy = null) =>
        $"<disk type='file' device='disk'><driver name='qemu' type='raw'{(errorPolicy is null ? "" : $" error_policy='{errorPolicy}'")}/>" +
        $"<source file='{image}'/><target dev='vda' bus='virtio'/></disk>";

    /// <summary>Waits for the guest's init to report it is ready (acpid and the agent are up).</summary>
    public bool WaitUntilReady(TimeSpan timeout) =>
        Sh.Eventually(() => ConsoleLines().Any(l => l.StartsWith("GUEST: READY")), timeout);

    /// <summary>The guest's uptime, from the last line it printed, or null.</summary>
    public double? Uptime() =>
        ConsoleLines().LastOrDefault(l => l.StartsWith("GUEST: UPTIME "))?["GUEST: UPTIME ".Length..] is { } s &&
        double.TryParse(s.Trim(), CultureInfo.InvariantCulture, out var up) ? up : null;

    private IEnumerable<string> ConsoleLines()
    {
        try
        {
            using var stream = new FileStream(ConsolePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return new StreamReader(stream).ReadToEnd().Split('\n');
        }
        catch (IOException) { return []; }
    }

    /// <summary>PIDs of qemu processes running this guest (the ground truth the agent must not contradict).</summary>
    public List<int> QemuPids()
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (argv.Length > 0 && argv[0].Contains("qemu-system") && argv.Contains($"guest={Name},debug-threads=on")) pids.Add(pid);
            }
            catch (IOException) { }
        }
        return pids;
    }
}
