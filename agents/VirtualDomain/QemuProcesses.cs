using System.Text;
using KvmOcf.Ocf;

namespace KvmOcf.VirtualDomain;

/// <summary>The qemu process table as a second witness to whether a guest runs here, for when
/// libvirtd cannot answer. Matches the <c>-name guest=NAME,…</c> form libvirt has used since 1.x
/// (EL8/EL9 add <c>,debug-threads=on</c>; the anchor's regex missed that, #1613), the bare
/// <c>-name NAME</c> form, and <c>-uuid UUID</c>. argv is compared as NUL-separated words, not
/// through a regex over <c>ps</c> text. Only processes in this host's network namespace count: a
/// qemu seen through /proc in another one belongs to a container or another (test) host.</summary>
internal static class QemuProcesses
{
    public static List<int> Find(string? name, string? uuid, string procRoot = "/proc")
    {
        var ourNetwork = NetworkNamespace(Path.Combine(procRoot, "self"));
        return ProcessTable.Pids(procRoot)
            .Where(pid => ProcessTable.Comm(pid, procRoot)?.StartsWith("qemu", StringComparison.Ordinal) == true)
            .Where(pid => NetworkNamespace(Path.Combine(procRoot, pid.ToString())) == ourNetwork)
            .Where(pid => ProcessTable.Argv(pid, procRoot) is { } argv && Matches(argv, name, uuid))
            .ToList();
    }

    private static string? NetworkNamespace(string processDirectory)
    {
        try { return new FileInfo(Path.Combine(processDirectory, "ns", "net")).LinkTarget; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    internal static bool Matches(string[] argv, string? name, string? uuid)
    {
        for (int i = 0; i + 1 < argv.Length; i++)
        {
            if (name is not null && argv[i] == "-name" && GuestName(argv[i + 1]) == name) return true;
            if (uuid is not null && argv[i] == "-uuid" && string.Equals(argv[i + 1], uuid, StringComparison.OrdinalIgnoreCase)) return true;
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
