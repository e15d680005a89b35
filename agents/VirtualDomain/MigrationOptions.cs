using System.Globalization;

namespace KvmOcf.VirtualDomain;

/// <summary>migrate_options, which the anchor agent passes to <c>virsh migrate</c> verbatim, mapped
/// to the libvirt migration flags and typed parameters each virsh option stands for. An option
/// without such a meaning here (e.g. --dname, which would rename the guest behind pacemaker's back)
/// is refused with a clear error instead of being passed on.</summary>
internal sealed record MigrationOptions
{
    public const uint Live = 1, PeerToPeer = 2, Tunnelled = 4, PersistDest = 8, UndefineSource = 16, Paused = 32,
        CopyStorageAll = 64, CopyStorageInc = 128, ChangeProtection = 256, Unsafe = 512, Compressed = 2048,
        AbortOnError = 4096, AutoConverge = 8192, RdmaPinAll = 16384, Postcopy = 32768, Tls = 65536, Parallel = 131072,
        SynchronousWrites = 262144, ZeroCopy = 1 << 20;

    private static readonly Dictionary<string, uint> FlagOptions = new()
    {
        ["--live"] = Live, ["--p2p"] = PeerToPeer, ["--tunnelled"] = Tunnelled | PeerToPeer, ["--persistent"] = PersistDest,
        ["--undefinesource"] = UndefineSource, ["--suspend"] = Paused, ["--copy-storage-all"] = CopyStorageAll,
        ["--copy-storage-inc"] = CopyStorageInc, ["--change-protection"] = ChangeProtection, ["--unsafe"] = Unsafe,
        ["--compressed"] = Compressed, ["--abort-on-error"] = AbortOnError, ["--auto-converge"] = AutoConverge,
        ["--rdma-pin-all"] = RdmaPinAll, ["--postcopy"] = Postcopy, ["--tls"] = Tls, ["--parallel"] = Parallel,
        ["--copy-storage-synchronous-writes"] = SynchronousWrites, ["--zerocopy"] = ZeroCopy,
        ["--verbose"] = 0, // virsh's progress display; the agent logs progress itself
    };

    /// <summary>virsh options with a value, and the libvirt typed parameter each sets.</summary>
    private static readonly Dictionary<string, (string Param, bool Numeric)> ValueOptions = new()
    {
        ["--migrateuri"] = ("migrate_uri", false),
        ["--listen-address"] = ("listen_address", false),
        ["--graphicsuri"] = ("graphics_uri", false),
        ["--migrate-disks"] = ("migrate_disks", false),
        ["--disks-port"] = ("disks_port", true),
        ["--disks-uri"] = ("disks_uri", false),
        ["--comp-methods"] = ("compression", false),
        ["--comp-mt-level"] = ("compression.mt.level", true),
        ["--comp-mt-threads"] = ("compression.mt.threads", true),
        ["--comp-mt-dthreads"] = ("compression.mt.dthreads", true),
        ["--comp-xbzrle-cache"] = ("compression.xbzrle.cache", true),
        ["--auto-converge-initial"] = ("auto_converge.initial", true),
        ["--auto-converge-increment"] = ("auto_converge.increment", true),
        ["--postcopy-bandwidth"] = ("bandwidth.postcopy", true),
        ["--parallel-connections"] = ("parallel.connections", true),
        ["--bandwidth"] = ("bandwidth", true),
        ["--tls-destination"] = ("tls.destination", false),
    };

    private static readonly Dictionary<string, string> Refused = new()
    {
        ["--dname"] = "renaming the guest would hide it from the cluster",
        ["--offline"] = "the cluster migrates running guests",
        ["--direct"] = "direct migration is Xen-only",
        ["--xml"] = "use the config parameter",
        ["--persistent-xml"] = "use the config parameter",
        ["--timeout"] = "the agent bounds the migration by the operation timeout",
        ["--timeout-suspend"] = "the agent bounds the migration by the operation timeout",
        ["--timeout-postcopy"] = "use migration_postcopy",
        ["--postcopy-after-precopy"] = "use migration_postcopy",
    };

    public static readonly string[] CompressionMethods = ["xbzrle", "mt", "zlib", "zstd"];

    public uint Flags { get; init; }
    /// <summary>Typed parameters by libvirt name; a name may repeat (migrate_disks, compression).</summary>
    public IReadOnlyList<(string Name, string Value, bool Numeric)> Parameters { get; init; } = [];
    public string? Problem { get; init; }

    public string? MigrateUri => Parameters.LastOrDefault(p => p.Name == "migrate_uri").Value;

    public static MigrationOptions Parse(string text)
    {
        uint flags = 0;
        var parameters = new List<(string, string, bool)>();
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < words.Length; i++)
        {
            var word = words[i];
            int eq = word.IndexOf('=');
            var option = eq > 0 ? word[..eq] : word;
            if (FlagOptions.TryGetValue(option, out var flag))
            {
                if (eq > 0) return Fail($"option {option} takes no value");
                flags |= flag;
            }
            else if (ValueOptions.TryGetValue(option, out var param))
            {
                string? value = eq > 0 ? word[(eq + 1)..] : i + 1 < words.Length ? words[++i] : null;
                if (string.IsNullOrEmpty(value)) return Fail($"option {option} needs a value");
                if (param.Numeric && !ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                    return Fail($"option {option} needs a number");
                foreach (var item in param.Param is "migrate_disks" or "compression" ? value.Split(',') : [value])
                    parameters.Add((param.Param, item, param.Numeric));
                if (param.Param == "compression" && CheckCompression(value) is { } bad) return Fail(bad);
            }
            else if (Refused.TryGetValue(option, out var why)) return Fail($"option {option} is not supported: {why}");
            else return Fail($"has unknown option {option}");
        }
        return new MigrationOptions { Flags = flags, Parameters = parameters };
    }

    private static MigrationOptions Fail(string problem) => new() { Problem = problem };

    public static string? CheckCompression(string methods)
    {
        foreach (var m in methods.Split(',', StringSplitOptions.TrimEntries))
            if (!CompressionMethods.Contains(m)) return $"has unknown compression method '{m}' (use {string.Join(", ", CompressionMethods)})";
        return null;
    }
}

/// <summary>shutdown_mode: virsh shutdown --mode, as virDomainShutdownFlags flags.</summary>
internal static class ShutdownModes
{
    private static readonly Dictionary<string, uint> Modes = new()
    {
        ["acpi"] = 1, ["agent"] = 2, ["initctl"] = 4, ["signal"] = 8, ["paravirt"] = 16,
    };

    public static string? Check(string modes) => Flags(modes, out var problem) is not null ? null : problem;

    public static uint? Flags(string modes, out string? problem)
    {
        problem = null;
        uint flags = 0;
        foreach (var mode in modes.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!Modes.TryGetValue(mode, out var flag))
            {
                problem = $"has unknown mode '{mode}' (use {string.Join(", ", Modes.Keys)})";
                return null;
            }
            flags |= flag;
        }
        return flags;
    }
}
