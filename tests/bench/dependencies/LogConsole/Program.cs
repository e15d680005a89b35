using Microsoft.Extensions.Logging;

// Disposing the factory flushes the Console provider's queue (it writes on a background thread).
using (var factory = LoggerFactory.Create(b => b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)))
{
    factory.CreateLogger("Bench").LogInformation("guest {Name} is running", "vm1");
}
return 0;
