using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;

namespace KvmOcf.Tests;

public class LoggingTests
{
    private sealed class Recorder : ILogSink
    {
        public List<(LogLevel, string)> Lines { get; } = [];
        public void Write(LogLevel level, string message) => Lines.Add((level, message));
    }

    [Fact]
    public void Lines_go_to_stderr_and_the_sink_one_line_each()
    {
        var stderr = new StringWriter();
        var sink = new Recorder();
        ILogger log = new AgentLogger(stderr, sink, debug: false);

        log.LogInformation("guest {Name} is\nrunning", "vm1");
        log.LogWarning("careful");
        log.LogDebug("hidden");

        Assert.Equal("INFO: guest vm1 is running\nWARNING: careful\n", stderr.ToString());
        Assert.Equal([(LogLevel.Information, "guest vm1 is running"), (LogLevel.Warning, "careful")], sink.Lines);
    }

    [Fact]
    public void Debug_appears_only_when_enabled()
    {
        var stderr = new StringWriter();
        ILogger log = new AgentLogger(stderr, null, debug: true);
        log.LogDebug("shown");
        Assert.Equal("DEBUG: shown\n", stderr.ToString());
    }

    [Fact]
    public void An_exception_adds_its_message_but_its_trace_only_in_debug()
    {
        var stderr = new StringWriter();
        ILogger log = new AgentLogger(stderr, null, debug: false);
        try { throw new IOException("disk gone"); }
        catch (IOException e) { log.LogError(e, "write failed"); }
        Assert.Equal("ERROR: write failed: disk gone\n", stderr.ToString());
    }

    [Theory]
    [InlineData("daemon", 3)]
    [InlineData("local7", 23)]
    [InlineData("nonsense", -1)]
    public void Facilities_map_to_syslog_codes(string name, int code)
    {
        Assert.Equal(code, SyslogSink.FacilityCode(name));
    }

    [Fact]
    public void Facility_none_turns_syslog_off()
    {
        Assert.Null(SyslogSink.For("A(b)", "none"));
        Assert.NotNull(SyslogSink.For("A(b)", "daemon"));
    }
}
