using KvmOcf.Fence;
using KvmOcf.Fence.Kvm;

return FenceRuntime.Main(new KvmGuestFence(), args);
