using KvmOcf.Libvirt;
using KvmOcf.Ocf;

namespace KvmOcf.Tests;

/// <summary>The neutral core knows no runtime: fence agents can stand on it without OCF, and each
/// runtime turns the core's failures into its own exit codes in one table.</summary>
public class LayeringTests
{
    [Theory]
    [InlineData(typeof(Command))]      // the core
    [InlineData(typeof(Hypervisor))]   // libvirt, shared with the guest fence agent
    public void Shared_libraries_reference_no_runtime(Type sample)
    {
        var references = sample.Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.DoesNotContain("KvmOcf.Ocf", references);
        Assert.DoesNotContain(sample.Assembly.GetExportedTypes(), t => t.Name.StartsWith("Ocf", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(FailureKind.NotFound, OcfExitCode.ErrInstalled)]
    [InlineData(FailureKind.Failed, OcfExitCode.ErrGeneric)]
    [InlineData(FailureKind.TimedOut, OcfExitCode.ErrGeneric)]
    [InlineData(FailureKind.Unreachable, OcfExitCode.ErrGeneric)]
    [InlineData(FailureKind.Refused, OcfExitCode.ErrGeneric)]
    public void The_ocf_runtime_maps_each_failure_once(FailureKind kind, OcfExitCode code)
    {
        var result = OcfResult.Of(new OperationException(kind, "why"));
        Assert.Equal((code, "why"), (result.Code, result.Reason));
        Assert.Equal(OcfExitCode.ErrPerm, OcfResult.Of(new OcfException(OcfExitCode.ErrPerm, "agent's own")).Code);
    }
}
