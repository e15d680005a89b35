using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;

// What an agent does: AgentLogger on fd 2 (syslog off here, so the comparison is stderr against stderr).
ILogger log = new AgentLogger(new FdWriter(2, autoFlush: true), sink: null, debug: false);
log.LogInformation("guest {Name} is running", "vm1");
return 0;
