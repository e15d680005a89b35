using System.Runtime.InteropServices;
using System.Text;

namespace KvmOcf.Libvirt;

/// <summary>A running live migration: virDomainMigrate3 (client-driven: this process holds both
/// connections) or virDomainMigrateToURI3 (peer-to-peer: the source libvirtd talks to the target's),
/// with typed parameters, on a worker thread so the caller can watch its progress, tune it, and
/// abort it at the deadline.</summary>
public sealed unsafe class MigrationJob
{
    private readonly Thread _worker;
    private Exception? _failure;

    private MigrationJob(Thread worker) => _worker = worker;

    public bool Finished => !_worker.IsAlive;
    public Exception? Failure => Finished ? _failure : null;

    /// <param name="destination">The target's connection (client-driven), or null with <paramref name="destinationUri"/> (peer-to-peer).</param>
    public static MigrationJob Start(Domain domain, Hypervisor? destination, string? destinationUri, uint flags,
        IReadOnlyList<(string Name, string Value, bool Numeric)> parameters)
    {
        MigrationJob? job = null;
        var worker = new Thread(() =>
        {
            var allocated = new List<nint>();
            try
            {
                var typed = (LibvirtNative.TypedParameter*)Marshal.AllocCoTaskMem(Math.Max(1, parameters.Count) * sizeof(LibvirtNative.TypedParameter));
                allocated.Add((nint)typed);
                for (int i = 0; i < parameters.Count; i++) typed[i] = Typed(parameters[i], allocated);
                if (destination is not null)
                {
                    var there = Hypervisor.Check(LibvirtNative.DomainMigrate3(domain.Handle, destination.Handle, typed, (uint)parameters.Count, flags), "live migration");
                    LibvirtNative.DomainFree(there);
                }
                else
                {
                    Hypervisor.Check(LibvirtNative.DomainMigrateToUri3(domain.Handle, destinationUri, typed, (uint)parameters.Count, flags), "live migration");
                }
            }
            catch (Exception e) { job!._failure = e; }
            finally { foreach (var p in allocated) Marshal.FreeCoTaskMem(p); }
        }) { IsBackground = true, Name = "migration" };
        job = new MigrationJob(worker);
        worker.Start();
        return job;
    }

    public bool Wait(TimeSpan time) => _worker.Join(time);

    private static LibvirtNative.TypedParameter Typed((string Name, string Value, bool Numeric) parameter, List<nint> allocated)
    {
        var typed = new LibvirtNative.TypedParameter();
        var name = Encoding.UTF8.GetBytes(parameter.Name);
        if (name.Length >= 80) throw new ArgumentException($"parameter name {parameter.Name} is too long");
        name.CopyTo(MemoryMarshal.CreateSpan(ref typed.Field[0], 80));
        if (parameter.Numeric)
        {
            // libvirt checks each parameter's type: these are ints, the bandwidths unsigned long long
            if (parameter.Name is "bandwidth" or "bandwidth.postcopy" or "compression.xbzrle.cache")
            {
                typed.Type = LibvirtNative.TYPED_PARAM_ULLONG;
                typed.ULong = ulong.Parse(parameter.Value);
            }
            else
            {
                typed.Type = LibvirtNative.TYPED_PARAM_INT;
                typed.Int = int.Parse(parameter.Value);
            }
        }
        else
        {
            typed.Type = LibvirtNative.TYPED_PARAM_STRING;
            var text = Marshal.StringToCoTaskMemUTF8(parameter.Value);
            allocated.Add(text);
            typed.String = (byte*)text;
        }
        return typed;
    }
}
