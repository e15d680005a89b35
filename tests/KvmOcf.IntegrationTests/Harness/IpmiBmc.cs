namespace KvmOcf.IntegrationTests.Harness;

/// <summary>A real IPMI 2.0 BMC (OpenIPMI's ipmi_sim, tests/lab/ipmilab) on 127.0.0.1 at a free UDP
/// port, whose chassis power kills and restarts a stand-in host process group. The password goes
/// to the lab through the environment only. Stopped by PID (BMC and host) on disposal.</summary>
public sealed class IpmiBmc : IDisposable
{
    public const string Address = "127.0.0.1";
    public const string User = "admin";
    /// <summary>Distinctive, so that a scan of every process's command line can look for it (ipmi_sim
    /// takes up to 16 characters).</summary>
    public const string Password = "kvmocf-S3cr-7291";
    private readonly string _lab = Path.Combine(Repo.Root, "tests/lab/ipmilab");

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("kvmocf-ipmi-").FullName;
    public int Port { get; private set; }

    public IpmiBmc()
    {
        Packages.Ensure("openipmi", "ipmitool", "iproute2");
        try { Start(); }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Starts the BMC (again, on the same port after <see cref="KillBmc"/>), the host powered on.</summary>
    public void Start()
    {
        var args = new List<string> { "start", Directory, "--user", User };
        if (Port > 0) args.AddRange(["--port", Port.ToString()]);
        if (Host() is null) args.Add("--on");
        var run = Sh.Ok(Lab(args.ToArray()), TimeSpan.FromSeconds(30));
        Port = int.Parse(run.StandardOutput.Trim());
    }

    private Command Lab(params string[] arguments) =>
        Cli.Wrap(_lab).WithArguments(arguments).WithEnvironmentVariables(e => e.Set("IPMILAB_PASSWORD", Password));

    /// <summary>The stand-in host's process, or null when it is powered off.</summary>
    public HostProcess? Host()
    {
        var r = Sh.Run(Lab("host-pid", Directory));
        return r.Succeeded && int.TryParse(r.StandardOutput.Trim(), out var pid) ? HostProcess.Of(pid) : null;
    }

    /// <summary>Powers the host on or off directly (as the chassis would), for a test's starting state.</summary>
    public void Power(bool on) => Sh.Ok(Lab("power", Directory, on ? "1" : "0"));

    /// <summary>Kills ipmi_sim (the host keeps running): a BMC that does not answer.</summary>
    public void KillBmc() => Sh.Ok(Lab("kill-bmc", Directory));

    public bool BmcRunning => File.Exists(Path.Combine(Directory, "sim.pid"));

    /// <summary>Every chassis event so far (timestamped ON/OFF lines).</summary>
    public string[] ChassisLog() =>
        File.Exists(Path.Combine(Directory, "chassis.log")) ? File.ReadAllLines(Path.Combine(Directory, "chassis.log")) : [];

    /// <summary>The options every fence_bmc run needs to reach this BMC (the password among them, for stdin).</summary>
    public List<(string, string)> Options(string action) =>
        [("action", action), ("ip", Address), ("ipport", Port.ToString()), ("username", User), ("password", Password)];

    /// <summary>Where fence_bmc remembers the suite negotiated with this BMC.</summary>
    public string CipherMemory => $"/run/kvmocf/fence_bmc-{Address}-{Port}.cipher";

    public void Dispose()
    {
        Sh.Run(Lab("stop", Directory));
        try { File.Delete(CipherMemory); } catch (IOException) { }
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
