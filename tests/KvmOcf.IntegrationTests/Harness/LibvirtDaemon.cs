namespace KvmOcf.IntegrationTests.Harness;

/// <summary>A real libvirtd (with virtlogd) for qemu:///system, started by hand without systemd
/// the way Debian's packages would run it, plus the test guest's kernel and initramfs. It refuses
/// to run where a libvirtd already runs, and on disposal destroys the test domains (kvmocf-*) and
/// stops only the daemons it started (by their PID files). Fault tests stop, restart, freeze and
/// thaw it.</summary>
public sealed class LibvirtDaemon : IDisposable
{
    public const string Uri = "qemu:///system";
    private readonly string _state = Directory.CreateTempSubdirectory("kvmocf-libvirt-").FullName;

    public string GuestDirectory { get; } = Path.Combine(Repo.Build, "guest");
    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("kvmocf-vd-").FullName;

    public LibvirtDaemon()
    {
        Packages.Ensure("libvirt-daemon-system", "libvirt-clients", "libvirt-daemon-driver-qemu", "qemu-system-x86", "qemu-utils");
        if (Daemons.RunsHere("libvirtd", "mnt"))
            throw new InvalidOperationException("libvirtd already runs on this machine; the tests will not touch it");
        Sh.Ok(Cli.Wrap(Path.Combine(Repo.Root, "tests/lab/build-guest")).WithArguments([GuestDirectory]), TimeSpan.FromMinutes(5));
        foreach (var dir in new[] { "/run/libvirt", "/var/lib/libvirt/qemu", "/var/log/libvirt/qemu" }) Directory.CreateDirectory(dir);
        // Without udev /dev/kvm is root-only; libvirt would then re-probe QEMU on every start (+4 s).
        if (File.Exists("/dev/kvm")) { Sh.Run("chgrp", "kvm", "/dev/kvm"); Sh.Run("chmod", "0660", "/dev/kvm"); }
        File.SetUnixFileMode(WorkDirectory, (UnixFileMode)0b111_101_101);
        Start();
    }

    private string PidFile(string daemon) => Path.Combine(_state, daemon + ".pid");
    public int Pid => int.Parse(File.ReadAllText(PidFile("libvirtd")).Trim());

    public void Start()
    {
        var log = $"LIBVIRT_LOG_OUTPUTS=3:file:{Path.Combine(Directory.CreateDirectory(Path.Combine(Repo.Build, "test-logs")).FullName, "libvirtd.log")}";
        if (!IsRunning("virtlogd")) Sh.Ok("env", log, "/usr/sbin/virtlogd", "-d", "-p", PidFile("virtlogd"));
        if (!IsRunning("libvirtd")) Sh.Ok("env", log, "/usr/sbin/libvirtd", "-d", "-p", PidFile("libvirtd"));
        if (!Sh.Eventually(() => Sh.Run("virsh", "-c", Uri, "version").Succeeded, TimeSpan.FromSeconds(30)))
            throw new InvalidOperationException("libvirtd did not come up; see build/test-logs/libvirtd.log");
    }

    /// <summary>Stops libvirtd cleanly (its guests keep running, as on a real host).</summary>
    public void Stop()
    {
        var pid = Pid;
        Sh.Run("kill", "-TERM", pid.ToString());
        Sh.Eventually(() => !Daemons.IsAlive(pid), TimeSpan.FromSeconds(30));
    }

    public void Freeze() => Sh.Ok("kill", "-STOP", Pid.ToString());
    public void Thaw() => Sh.Ok("kill", "-CONT", Pid.ToString());

    /// <summary>Undoes what a fault test may have left: a frozen or stopped libvirtd runs again.</summary>
    public void Recover()
    {
        Thaw();
        if (!Daemons.RunsHere("libvirtd", "mnt")) Start();
    }

    private bool IsRunning(string daemon) =>
        File.Exists(PidFile(daemon)) && int.TryParse(File.ReadAllText(PidFile(daemon)).Trim(), out var pid) && Daemons.IsAlive(pid);

    /// <summary>virsh against this daemon.</summary>
    public ToolResult Virsh(params string[] arguments) => Sh.Run("virsh", ["-c", Uri, .. arguments]);

    public void Dispose()
    {
        if (IsRunning("libvirtd"))
        {
            Thaw();
            foreach (var name in Virsh("list", "--all", "--name").StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                if (name.StartsWith("kvmocf-", StringComparison.Ordinal))
                {
                    Virsh("destroy", name);
                    Virsh("undefine", name, "--keep-nvram");
                }
        }
        foreach (var daemon in new[] { "libvirtd", "virtlogd" })
            if (IsRunning(daemon))
            {
                var pid = int.Parse(File.ReadAllText(PidFile(daemon)).Trim());
                Sh.Run("kill", "-TERM", pid.ToString());
                if (!Sh.Eventually(() => !Daemons.IsAlive(pid), TimeSpan.FromSeconds(20))) Sh.Run("kill", "-KILL", pid.ToString());
            }
        Directory.Delete(_state, recursive: true);
        Directory.Delete(WorkDirectory, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class LibvirtCollection : ICollectionFixture<LibvirtDaemon>
{
    public const string Name = "libvirt";
}
