using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace KvmOcf.Core;

/// <summary>Where agent log lines go, besides stderr.</summary>
public interface ILogSink
{
    void Write(LogLevel level, string message);
}

/// <summary>syslog(3) with the facility pacemaker configured, tagged <c>Agent(instance)[pid]</c>
/// as ocf_log does. The connection to /dev/log is made on the first message only.</summary>
public sealed class SyslogSink : ILogSink
{
    private static readonly Dictionary<string, int> Facilities = new(StringComparer.OrdinalIgnoreCase)
    {
        ["kern"] = 0, ["user"] = 1, ["mail"] = 2, ["daemon"] = 3, ["auth"] = 4, ["syslog"] = 5,
        ["lpr"] = 6, ["news"] = 7, ["uucp"] = 8, ["cron"] = 9, ["authpriv"] = 10, ["ftp"] = 11,
        ["local0"] = 16, ["local1"] = 17, ["local2"] = 18, ["local3"] = 19,
        ["local4"] = 20, ["local5"] = 21, ["local6"] = 22, ["local7"] = 23,
    };

    private readonly string _tag;
    private readonly int _facility;
    private bool _open;

    private SyslogSink(string tag, int facility) { _tag = tag; _facility = facility; }

    /// <summary>Null when the facility is "none" (syslog off). An unknown name falls back to daemon.</summary>
    public static SyslogSink? For(string tag, string facility) =>
        facility.Equals("none", StringComparison.OrdinalIgnoreCase)
            ? null
            : new SyslogSink(tag, Facilities.GetValueOrDefault(facility.Trim(), 3));

    public static int FacilityCode(string name) => Facilities.GetValueOrDefault(name, -1);

    public void Write(LogLevel level, string message)
    {
        if (!_open)
        {
            // openlog keeps the pointer: the tag lives for the life of the process.
            Posix.OpenLog(Marshal.StringToCoTaskMemUTF8(_tag), Posix.LOG_PID, _facility << 3);
            _open = true;
        }
        Posix.Syslog((_facility << 3) | Severity(level), "%s", message);
    }

    private static int Severity(LogLevel level) => level switch
    {
        LogLevel.Critical => 2,
        LogLevel.Error => 3,
        LogLevel.Warning => 4,
        LogLevel.Information => 6,
        _ => 7,
    };
}

/// <summary>The agent's ILogger: one line per message, to stderr (which pacemaker copies into its
/// log) and to syslog. Debug and trace only when <c>HA_debug</c> or <c>OCF_TRACE_RA</c> is set.</summary>
public sealed class AgentLogger(TextWriter stderr, ILogSink? sink, bool debug) : ILogger
{
    public bool DebugEnabled => debug;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && (debug || logLevel >= LogLevel.Information);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        var message = OneLine.Of(formatter(state, exception), 4000);
        if (exception is not null && !message.Contains(exception.Message, StringComparison.Ordinal))
            message += ": " + OneLine.Of(exception.Message, 500);
        Write(logLevel, message);
        // The full exception, stack included, only ever reaches the debug log.
        if (exception is not null && debug) Write(LogLevel.Debug, OneLine.Of(exception.ToString(), 8000));
    }

    private void Write(LogLevel level, string message)
    {
        try { stderr.WriteLine($"{LevelName(level)}: {message}"); } catch (IOException) { }
        try { sink?.Write(level, message); } catch (Exception e) when (e is IOException or DllNotFoundException or EntryPointNotFoundException) { }
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Critical => "CRIT",
        LogLevel.Error => "ERROR",
        LogLevel.Warning => "WARNING",
        LogLevel.Information => "INFO",
        _ => "DEBUG",
    };
}

/// <summary>An ILoggerProvider for hosts that want a LoggerFactory; every category logs alike.</summary>
public sealed class AgentLoggerProvider(AgentLogger logger) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => logger;
    public void Dispose() { }
}
