using KvmOcf.Fence;
using KvmOcf.Fence.Bmc;

return FenceRuntime.Main(new BmcFence(), args);
