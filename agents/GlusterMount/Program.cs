using KvmOcf.GlusterMount;
using KvmOcf.Ocf;

return OcfRuntime.Main(new GlusterMountAgent(), args);
