using System.Text;
using KvmOcf.Libvirt;
using KvmOcf.Ocf;

namespace KvmOcf.VirtualDomain;

/// <summary>The qemu process table as a second witness to whether a guest runs here, for when
/// libvirtd cannot answer or says "shut off". Matches the <c>-name guest=NAME,…</c> form libvirt
/// has used since 1.x (EL8/EL9 add <c>,debug-threads=on</c>; the anchor's regex missed that, #1613),
/// the bare <c>-name NAME</c> form, and <c>-uuid UUID</c> in any case. argv is compared as
/// NUL-separated words, not through a regex over <c>ps</c> text.
/// <para>It fails closed: a witness that says "no qemu" lets the agent report the guest stopped, so
/// every doubt counts as a match. A process counts as a qemu by its command name (qemu*, kvm*) or
/// as the domain's configured emulator; a process in another network namespace belongs to a
/// container or another (test) host and is left out — but only when its namespace can be read.</para></summary>
internal static class QemuProcesses
{
    public static List<int> Find(DomainId id, string? emulator, string procRoot = "/proc")
    {
        var ourNetwork = ProcessTable.OwnNamespace("net", procRoot);
        var emulatorComm = emulator is { Length: > 0 } ? Truncated(Path.GetFileName(emulator)) : null;
        return ProcessTable.Pids(procRoot)
            .Where(pid => ProcessTable.Comm(pid, procRoot) is { } comm && IsEmulator(comm, emulatorComm))
            .Where(pid => ourNetwork is null || ProcessTable.Namespace(pid, "net", procRoot) is not { } theirs || theirs == ourNetwork)
            .Where(pid => ProcessTable.Argv(pid, procRoot) is { } argv && Matches(argv, id))
            .ToList();
    }

    private static bool IsEmulator(string comm, string? emulatorComm) =>
        comm.StartsWith("qemu", StringComparison.Ordinal) || comm.StartsWith("kvm", StringComparison.Ordinal) || comm == emulatorComm;

    /// <summary>The kernel keeps 15 bytes of a command name.</summary>
    private static string Truncated(string name) => name.Length <= 15 ? name : name[..15];

    internal static bool Matches(string[] argv, DomainId id)
    {
        for (int i = 0; i + 1 < argv.Length; i++)
        {
            if (argv[i] == "-name" && id.Matches(GuestName(argv[i + 1]), null)) return true;
            if (argv[i] == "-uuid" && id.Matches(null, argv[i + 1])) return true;
        }
        return false;
    }

    /// <summary>The guest name in a <c>-name</c> value: <c>guest=NAME,opt=…</c> (qemu escapes a
    /// comma in NAME as ",,") or just <c>NAME</c>.</summary>
    internal static string GuestName(string value)
    {
        if (!value.StartsWith("guest=", StringComparison.Ordinal)) return value;
        var sb = new StringBuilder();
        for (int i = "guest=".Length; i < value.Length; i++)
        {
            if (value[i] == ',')
            {
                if (i + 1 < value.Length && value[i + 1] == ',') { sb.Append(','); i++; continue; }
                break;
            }
            sb.Append(value[i]);
        }
        return sb.ToString();
    }
}
