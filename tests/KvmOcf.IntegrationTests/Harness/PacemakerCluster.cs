using System.Xml.Linq;

namespace KvmOcf.IntegrationTests.Harness;

/// <summary>A real single-node corosync (knet on 127.0.0.1) + pacemaker cluster, started without
/// systemd the way the lab recipe does, with STONITH off. It refuses to run where a cluster already
/// runs, saves and restores corosync.conf and the CIB directory, and on disposal stops only the
/// processes it started (by their session).</summary>
public sealed class PacemakerCluster : IDisposable
{
    private const string CorosyncConf = "/etc/corosync/corosync.conf";
    private const string AuthKey = "/etc/corosync/authkey";
    private const string PacemakerLib = "/var/lib/pacemaker";
    private readonly string _work = Directory.CreateTempSubdirectory("kvmocf-pcmk-").FullName;
    private readonly int _corosync;
    private readonly int _pacemakerd;
    private readonly bool _createdAuthKey;
    private readonly string? _savedConf;
    private readonly string _savedCib;
    private readonly PacemakerQueries _pacemaker = new(argv => Sh.Run(argv[0], argv[1..]));

    public string NodeName { get; }
    public string LogDirectory => _work;

    public PacemakerCluster()
    {
        Packages.Ensure("pacemaker", "pacemaker-cli-utils", "corosync", "pcs", "crmsh", "resource-agents", "libxml2-utils");
        if (Daemons.RunsHere("corosync", "net") || Daemons.RunsHere("pacemakerd", "net"))
            throw new InvalidOperationException("corosync or pacemaker already runs on this machine; the tests will not touch it");

        NodeName = Sh.Ok("uname", "-n").StandardOutput.Trim();
        if (File.Exists(CorosyncConf)) File.Copy(CorosyncConf, _savedConf = Path.Combine(_work, "corosync.conf.saved"));
        File.WriteAllText(CorosyncConf, CorosyncConfig(NodeName));
        if (!File.Exists(AuthKey)) { Sh.Ok("corosync-keygen", "-l"); _createdAuthKey = true; }

        _savedCib = Path.Combine(_work, "cib.saved");
        Directory.CreateDirectory(_savedCib);
        PrepareStateDirectories();
        SeedCib();

        try
        {
            _corosync = Daemons.Start(Path.Combine(_work, "corosync.out"), ["corosync", "-f"]);
            if (!Sh.Eventually(() => Sh.Run("corosync-quorumtool", "-s").Succeeded, TimeSpan.FromSeconds(30)))
                throw new InvalidOperationException("corosync did not become quorate; see build/test-logs/corosync.log");
            _pacemakerd = Daemons.Start(Path.Combine(_work, "pacemakerd.out"), ["pacemakerd"],
                ["PCMK_logfile=/var/log/pacemaker/pacemaker.log"]);
            if (!Sh.Eventually(() => NodeOnline() && DcIdle(), TimeSpan.FromSeconds(90)))
                throw new InvalidOperationException("pacemaker did not come up; see build/test-logs/pacemaker.log");
        }
        catch
        {
            Dispose();   // xunit does not dispose a fixture whose constructor threw
            throw;
        }
    }

    private static string CorosyncConfig(string node) => $$"""
        totem {
          version: 2
          cluster_name: kvmocftest
          transport: knet
          crypto_cipher: aes256
          crypto_hash: sha256
          token: 3000
        }
        nodelist {
          node {
            name: {{node}}
            nodeid: 1
            ring0_addr: 127.0.0.1
          }
        }
        quorum {
          provider: corosync_votequorum
        }
        logging {
          to_logfile: yes
          logfile: /var/log/corosync/corosync.log
          to_syslog: no
          to_stderr: no
          timestamp: on
        }
        """;

    /// <summary>Moves the existing CIB aside and gives pacemaker fresh, correctly owned directories.</summary>
    private void PrepareStateDirectories()
    {
        Directory.CreateDirectory("/var/log/corosync");
        Directory.CreateDirectory("/var/log/pacemaker");
        Directory.CreateDirectory("/run/resource-agents");
        foreach (var sub in new[] { "cib", "pengine", "blackbox", "cores" })
        {
            var dir = Path.Combine(PacemakerLib, sub);
            Directory.CreateDirectory(dir);
            if (sub == "cib")
                foreach (var f in Directory.GetFiles(dir)) File.Move(f, Path.Combine(_savedCib, Path.GetFileName(f)));
            Sh.Ok("chown", "hacluster:haclient", dir);
            Sh.Ok("chmod", "750", dir);
        }
        File.WriteAllText("/var/log/pacemaker/pacemaker.log", "");
        Sh.Ok("chown", "hacluster:haclient", "/var/log/pacemaker/pacemaker.log");
    }

    private void SeedCib()
    {
        var cib = Path.Combine(_work, "cib.xml");
        File.WriteAllText(cib, Sh.Ok("cibadmin", "--empty").StandardOutput);
        foreach (var (name, value) in new[] { ("dc-deadtime", "2s"), ("stonith-enabled", "false"), ("cluster-recheck-interval", "1min") })
            Sh.Ok(Cli.Wrap("crm_attribute").WithEnvironmentVariables(e => e.Set("CIB_file", cib)).WithArguments(["--type", "crm_config", "-n", name, "-v", value]));
        Sh.Ok("install", "-o", "hacluster", "-g", "haclient", "-m", "600", cib, Path.Combine(PacemakerLib, "cib", "cib.xml"));
    }

    private bool NodeOnline() =>
        CrmMon() is { } mon &&
        mon.Descendants("node").Any(n => (string?)n.Attribute("name") == NodeName && (string?)n.Attribute("online") == "true") &&
        mon.Descendants("current_dc").Any(d => (string?)d.Attribute("present") == "true");

    private static bool DcIdle()
    {
        // crmadmin -q answers on stdout in pacemaker 2.1 and on stderr before it
        static string Quiet(ToolResult r) => (r.StandardOutput + r.StandardError).Trim();
        var dc = Quiet(Sh.Run("crmadmin", "-q", "-D")).Split('\n')[^1].Trim();
        return dc.Length > 0 && Quiet(Sh.Run("crmadmin", "-q", "-S", dc)).Contains("S_IDLE");
    }

    /// <summary>crm_mon's XML view of the cluster, or null while it cannot answer.</summary>
    public XElement? CrmMon() => _pacemaker.CrmMon();
    public string? Utilization(string resource, string attribute) => _pacemaker.Utilization(resource, attribute);
    public string? Epoch() => _pacemaker.Epoch();

    /// <summary>The role crm_mon shows for a resource (or clone instance), e.g. "Started".</summary>
    public string? RoleOf(string resource) =>
        (string?)CrmMon()?.Descendants("resource")
            .FirstOrDefault(r => (string?)r.Attribute("id") == resource && (string?)r.Attribute("active") == "true")?.Attribute("role");

    public bool WaitForRole(string resource, string role, TimeSpan? timeout = null) =>
        Sh.Eventually(() => RoleOf(resource) == role, timeout ?? TimeSpan.FromSeconds(60));

    /// <summary>Waits for the cluster to settle (no pending transition).</summary>
    public void Settle() => Sh.Run(Cli.Wrap("crm_resource").WithArguments(["--wait", "--timeout=60s"]), TimeSpan.FromSeconds(70));

    public void Dispose()
    {
        if (_pacemakerd > 0) Daemons.StopSession(_pacemakerd, "TERM", TimeSpan.FromSeconds(60));
        if (_corosync > 0)
        {
            Sh.Run("corosync-cfgtool", "-H", "--force");
            Daemons.StopSession(_corosync, "TERM", TimeSpan.FromSeconds(15));
        }

        var logs = Directory.CreateDirectory(Path.Combine(Repo.Build, "test-logs")).FullName;
        foreach (var log in new[] { "/var/log/pacemaker/pacemaker.log", "/var/log/corosync/corosync.log" })
            if (File.Exists(log)) File.Copy(log, Path.Combine(logs, Path.GetFileName(log)), overwrite: true);

        if (_savedConf is not null) File.Copy(_savedConf, CorosyncConf, overwrite: true); else File.Delete(CorosyncConf);
        if (_createdAuthKey) File.Delete(AuthKey);
        var cibDir = Path.Combine(PacemakerLib, "cib");
        foreach (var f in Directory.GetFiles(cibDir)) File.Delete(f);
        foreach (var f in Directory.GetFiles(_savedCib)) File.Move(f, Path.Combine(cibDir, Path.GetFileName(f)));
        Directory.Delete(_work, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class PacemakerCollection : ICollectionFixture<PacemakerCluster>
{
    public const string Name = "pacemaker";
}
