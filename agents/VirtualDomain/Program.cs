using KvmOcf.Ocf;
using KvmOcf.VirtualDomain;

return OcfRuntime.Main(new VirtualDomainAgent(), args);
