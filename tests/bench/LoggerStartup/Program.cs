using Microsoft.Extensions.Logging;

#if VARIANT_OCF
ILogger log = new KvmOcf.Ocf.AgentLogger(new KvmOcf.Ocf.FdWriter(2, autoFlush: true), KvmOcf.Ocf.SyslogSink.For("LoggerStartup(bench)", "daemon"), debug: false);
log.LogInformation("guest {Name} is running", "vm1");
#elif VARIANT_CONSOLE
using (var factory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true)))
{
    factory.CreateLogger("LoggerStartup").LogInformation("guest {Name} is running", "vm1");
}
#endif
return 0;
