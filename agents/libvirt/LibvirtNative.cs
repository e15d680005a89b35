using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace KvmOcf.Libvirt;

/// <summary>The libvirt C API (libvirt.so.0), bound with [LibraryImport]. The library is loaded on
/// the first call only — loading it costs ~11 ms — so the monitor path, which speaks the RPC
/// protocol itself (<see cref="RpcClient"/>), never pays for it. Every call here can block on a hung
/// libvirtd: call them only through <see cref="Hypervisor"/>, which bounds each by the deadline.</summary>
public static unsafe partial class LibvirtNative
{
    private const string Lib = "libvirt.so.0";
    private const string LibQemu = "libvirt-qemu.so.0";

    public const uint DOMAIN_XML_SECURE = 1, DOMAIN_XML_INACTIVE = 2;
    public const uint UNDEFINE_KEEP_NVRAM = 8;
    public const int TYPED_PARAM_INT = 1, TYPED_PARAM_ULLONG = 4, TYPED_PARAM_STRING = 7;
    public const int ERR_NO_DOMAIN = 42, ERR_OPERATION_INVALID = 55;

    [StructLayout(LayoutKind.Sequential)]
    public struct DomainInfo
    {
        public byte State;
        public nuint MaxMemKiB;
        public nuint MemoryKiB;
        public ushort VirtCpus;
        public ulong CpuTimeNs;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct JobInfo
    {
        public int Type;
        public ulong TimeElapsed, TimeRemaining, DataTotal, DataProcessed, DataRemaining,
            MemTotal, MemProcessed, MemRemaining, FileTotal, FileProcessed, FileRemaining;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Error
    {
        public int Code;
        public int Domain;
        public byte* Message;
        public int Level;
        public nint Conn, Dom;
        public byte* Str1, Str2, Str3;
        public int Int1, Int2;
        public nint Net;
    }

    /// <summary>virTypedParameter: an 80-byte name, a type and an 8-byte value.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 96)]
    public struct TypedParameter
    {
        [FieldOffset(0)] public FieldName Field;
        [FieldOffset(80)] public int Type;
        [FieldOffset(88)] public int Int;
        [FieldOffset(88)] public uint UInt;
        [FieldOffset(88)] public long Long;
        [FieldOffset(88)] public ulong ULong;
        [FieldOffset(88)] public byte* String;
    }

    [InlineArray(80)]
    public struct FieldName { private byte _first; }

    [LibraryImport(Lib, EntryPoint = "virConnectOpen", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint ConnectOpen(string? uri);

    [LibraryImport(Lib, EntryPoint = "virConnectClose")]
    public static partial int ConnectClose(nint conn);

    [LibraryImport(Lib, EntryPoint = "virSetErrorFunc")]
    public static partial void SetErrorFunc(nint userData, delegate* unmanaged<nint, Error*, void> handler);

    [LibraryImport(Lib, EntryPoint = "virGetLastError")]
    public static partial Error* GetLastError();

    [LibraryImport(Lib, EntryPoint = "virDomainLookupByName", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint DomainLookupByName(nint conn, string name);

    [LibraryImport(Lib, EntryPoint = "virDomainLookupByUUIDString", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint DomainLookupByUuid(nint conn, string uuid);

    [LibraryImport(Lib, EntryPoint = "virDomainFree")]
    public static partial int DomainFree(nint dom);

    [LibraryImport(Lib, EntryPoint = "virDomainGetState")]
    public static partial int DomainGetState(nint dom, int* state, int* reason, uint flags);

    [LibraryImport(Lib, EntryPoint = "virDomainGetInfo")]
    public static partial int DomainGetInfo(nint dom, DomainInfo* info);

    [LibraryImport(Lib, EntryPoint = "virDomainIsPersistent")]
    public static partial int DomainIsPersistent(nint dom);

    [LibraryImport(Lib, EntryPoint = "virDomainCreateXML", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint DomainCreateXml(nint conn, string xml, uint flags);

    [LibraryImport(Lib, EntryPoint = "virDomainDefineXML", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint DomainDefineXml(nint conn, string xml);

    [LibraryImport(Lib, EntryPoint = "virDomainCreate")]
    public static partial int DomainCreate(nint dom);

    [LibraryImport(Lib, EntryPoint = "virDomainShutdownFlags")]
    public static partial int DomainShutdownFlags(nint dom, uint flags);

    [LibraryImport(Lib, EntryPoint = "virDomainDestroyFlags")]
    public static partial int DomainDestroyFlags(nint dom, uint flags);

    [LibraryImport(Lib, EntryPoint = "virDomainUndefineFlags")]
    public static partial int DomainUndefineFlags(nint dom, uint flags);

    [LibraryImport(Lib, EntryPoint = "virDomainSaveFlags", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int DomainSaveFlags(nint dom, string to, string? dxml, uint flags);

    [LibraryImport(Lib, EntryPoint = "virDomainRestoreFlags", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int DomainRestoreFlags(nint conn, string from, string? dxml, uint flags);

    [LibraryImport(Lib, EntryPoint = "virDomainGetXMLDesc")]
    public static partial byte* DomainGetXmlDesc(nint dom, uint flags);

    [LibraryImport(Lib, EntryPoint = "virDomainMigrateToURI3", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int DomainMigrateToUri3(nint dom, string? dconnuri, TypedParameter* parameters, uint count, uint flags);

    [LibraryImport(Lib, EntryPoint = "virDomainMigrate3")]
    public static partial nint DomainMigrate3(nint dom, nint dconn, TypedParameter* parameters, uint count, uint flags);

    [LibraryImport(Lib, EntryPoint = "virDomainMigrateSetMaxDowntime")]
    public static partial int DomainMigrateSetMaxDowntime(nint dom, ulong milliseconds, uint flags);

    [LibraryImport(Lib, EntryPoint = "virDomainMigrateStartPostCopy")]
    public static partial int DomainMigrateStartPostCopy(nint dom, uint flags);

    [LibraryImport(Lib, EntryPoint = "virDomainAbortJob")]
    public static partial int DomainAbortJob(nint dom);

    [LibraryImport(Lib, EntryPoint = "virDomainGetJobInfo")]
    public static partial int DomainGetJobInfo(nint dom, JobInfo* info);

    [LibraryImport(Lib, EntryPoint = "virStoragePoolLookupByName", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint StoragePoolLookupByName(nint conn, string name);

    [LibraryImport(Lib, EntryPoint = "virStoragePoolIsActive")]
    public static partial int StoragePoolIsActive(nint pool);

    [LibraryImport(Lib, EntryPoint = "virStoragePoolCreate")]
    public static partial int StoragePoolCreate(nint pool, uint flags);

    [LibraryImport(Lib, EntryPoint = "virStoragePoolCreateXML", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint StoragePoolCreateXml(nint conn, string xml, uint flags);

    [LibraryImport(Lib, EntryPoint = "virStoragePoolRefresh")]
    public static partial int StoragePoolRefresh(nint pool, uint flags);

    [LibraryImport(Lib, EntryPoint = "virStoragePoolDestroy")]
    public static partial int StoragePoolDestroy(nint pool);

    [LibraryImport(Lib, EntryPoint = "virStoragePoolFree")]
    public static partial int StoragePoolFree(nint pool);

    [LibraryImport(Lib, EntryPoint = "virConnectListAllDomains")]
    public static partial int ConnectListAllDomains(nint conn, nint** domains, uint flags);

    [LibraryImport(Lib, EntryPoint = "virDomainGetName")]
    public static partial byte* DomainGetName(nint dom);

    [LibraryImport(Lib, EntryPoint = "virDomainGetUUIDString")]
    public static partial int DomainGetUuidString(nint dom, byte* buffer);

    [LibraryImport(Lib, EntryPoint = "virConnectListAllStoragePools")]
    public static partial int ConnectListAllStoragePools(nint conn, nint** pools, uint flags);

    [LibraryImport(Lib, EntryPoint = "virStoragePoolGetName")]
    public static partial byte* StoragePoolGetName(nint pool);

    [LibraryImport(Lib, EntryPoint = "virStoragePoolGetXMLDesc")]
    public static partial byte* StoragePoolGetXmlDesc(nint pool, uint flags);

    [LibraryImport(Lib, EntryPoint = "virStorageVolLookupByName", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint StorageVolLookupByName(nint pool, string name);

    [LibraryImport(Lib, EntryPoint = "virStorageVolFree")]
    public static partial int StorageVolFree(nint vol);

    [LibraryImport(Lib, EntryPoint = "virNetworkLookupByName", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint NetworkLookupByName(nint conn, string name);

    [LibraryImport(Lib, EntryPoint = "virNetworkIsActive")]
    public static partial int NetworkIsActive(nint net);

    [LibraryImport(Lib, EntryPoint = "virNetworkCreate")]
    public static partial int NetworkCreate(nint net);

    [LibraryImport(Lib, EntryPoint = "virNetworkFree")]
    public static partial int NetworkFree(nint net);

    [LibraryImport(LibQemu, EntryPoint = "virDomainQemuAgentCommand", StringMarshalling = StringMarshalling.Utf8)]
    public static partial byte* DomainQemuAgentCommand(nint dom, string command, int timeoutSeconds, uint flags);

    [LibraryImport("libc.so.6", EntryPoint = "free")]
    public static partial void Free(void* pointer);

    /// <summary>Copies a string libvirt allocated and frees it.</summary>
    public static string? TakeString(byte* text)
    {
        if (text is null) return null;
        try { return Marshal.PtrToStringUTF8((nint)text); }
        finally { Free(text); }
    }

    public static string? PeekString(byte* text) => text is null ? null : Marshal.PtrToStringUTF8((nint)text);
}
