using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;

using (var factory = LoggerFactory.Create(b => b.AddProvider(new AgentLoggerProvider(new AgentLogger(new FdWriter(2, autoFlush: true), sink: null, debug: false)))))
{
    factory.CreateLogger("Bench").LogInformation("guest {Name} is running", "vm1");
}
return 0;
