using KvmOcf.DrbdDevice;
using KvmOcf.Ocf;

return OcfRuntime.Main(new DrbdDeviceAgent(), args);
