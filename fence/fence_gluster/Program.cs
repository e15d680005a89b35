using KvmOcf.Fence;
using KvmOcf.Fence.Gluster;

return FenceRuntime.Main(new GlusterStorageFence(), args);
