using KvmOcf.Ocf;
using KvmOcf.TestAgent;

return OcfRuntime.Main(new StateFileAgent(), args);
