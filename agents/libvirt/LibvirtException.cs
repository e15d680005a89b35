namespace KvmOcf.Libvirt;

/// <summary>A libvirt error, with libvirt's error code and a one-line reason.</summary>
public sealed class LibvirtException(string what, int code, string message)
    : OperationException(FailureKind.Failed, $"{what}: {OneLine.Of(message, 2000)}")
{
    public int ErrorCode { get; } = code;
}
