using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;

namespace KvmOcf.VirtualDomain;

/// <summary>Under systemd, drop-ins into resource-agents-deps.target make libvirtd outlive
/// pacemaker at shutdown, so guests are migrated or stopped by the cluster before libvirtd goes
/// (the anchor's #1087). Written only when missing, so daemon-reload runs once, not on every start.</summary>
internal static class SystemdDropIns
{
    private const string Directory = "/run/systemd/system/resource-agents-deps.target.d";

    private static readonly (string File, string Content)[] DropIns =
    [
        ("99-VirtualDomain-libvirt.conf", "[Unit]\nAfter=libvirtd.service virtqemud.service\n"),
        ("99-VirtualDomain-machines.conf", "[Unit]\nWants=virt-guest-shutdown.target\n"),
    ];

    public static void Ensure(OcfContext ctx)
    {
        if (!UnderSystemd()) return;
        bool changed = false;
        try
        {
            foreach (var (file, content) in DropIns)
            {
                var path = Path.Combine(Directory, file);
                if (File.Exists(path) && File.ReadAllText(path) == content) continue;
                AtomicFile.Write(path, content, (UnixFileMode)0b110_100_100);
                changed = true;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ctx.Log.LogWarning("could not write systemd drop-ins: {Why}", e.Message);
            return;
        }
        if (!changed) return;
        foreach (var args in new[] { new[] { "daemon-reload" }, ["start", "virt-guest-shutdown.target"] })
        {
            try
            {
                var r = ctx.Run(new Command("systemctl").WithArguments(args));
                if (!r.Succeeded) ctx.Log.LogWarning("systemctl {Args} failed: {Why}", string.Join(' ', args), r.Summary);
            }
            catch (OperationException e) { ctx.Log.LogWarning("systemctl {Args} failed: {Why}", string.Join(' ', args), e.Reason); }
        }
    }

    private static bool UnderSystemd()
    {
        try { return File.ReadAllText("/proc/1/comm").Trim() == "systemd"; }
        catch (IOException) { return false; }
    }
}
