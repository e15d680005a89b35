using Microsoft.Extensions.Logging;

namespace KvmOcf.Ocf;

/// <summary>Runs one OCF action of an agent: the whole contract with pacemaker in one place.
/// The action is the only argument (extra ones are ignored); parameters come from the
/// environment; the result is an exit code plus, for failures, one <c>ocf-exit-reason:</c> line
/// on stderr (pacemaker keeps the last). No exception ever escapes as a stack trace.</summary>
public static class OcfRuntime
{
    private static readonly HashSet<string> HelpWords = ["usage", "help", "--help", "-h", "-?"];

    /// <summary>The process entry point: the real environment, stdout/stderr and syslog. There is no
    /// watchdog thread (it would cost every run half a millisecond): every wait is bounded by the
    /// action's <see cref="Deadline"/> instead, and pacemaker's own timeout is the backstop.</summary>
    public static int Main(ResourceAgent agent, string[] args)
    {
        var stderr = new FdWriter(2, autoFlush: true);
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            ReportAndExit(stderr, "ocf-exit-reason:", $"internal error: {(e.ExceptionObject as Exception)?.GetType().Name}");
        };
        OcfEnvironment env;
        try { env = OcfEnvironment.FromProcess(); }
        catch (Exception e) { stderr.WriteLine($"ocf-exit-reason:cannot read the environment: {OneLine.Of(e.Message, 100)}"); return 1; }

        var tag = env.ResourceInstance.Length > 0 ? $"{agent.Name}({OneLine.Of(env.ResourceInstance, 100)})" : agent.Name;
        ILogSink? syslog = null;
        try { syslog = SyslogSink.For(tag, env.LogFacility); } catch (OperationException) { }
        return Run(agent, args, env, new FdWriter(1, autoFlush: false), stderr, syslog);
    }

    /// <summary>The testable core: everything but the process-wide pieces.</summary>
    public static int Run(ResourceAgent agent, IReadOnlyList<string> args, OcfEnvironment env,
        TextWriter stdout, TextWriter stderr, ILogSink? sink = null)
    {
        string prefix = "ocf-exit-reason:";
        try
        {
            prefix = env.ExitReasonPrefix;
            var action = args.Count > 0 ? args[0] : "";
            if (action == "meta-data")
            {
                stdout.Write(Metadata.Xml(agent));
                stdout.Flush();
                return 0;
            }
            if (action == "manpage")
            {
                stdout.Write(ManPage.Roff(agent));
                stdout.Flush();
                return 0;
            }
            if (HelpWords.Contains(action))
            {
                stdout.Write(Usage.Text(agent));
                stdout.Flush();
                return 0;
            }

            var declared = FindAction(agent, action);
            if (declared is null && action != "validate-all")
            {
                stderr.Write(Usage.Text(agent));
                var why = action.Length == 0 ? "no action given" : $"action {OneLine.Quote(action)} is not implemented";
                return Finish(new OcfResult(OcfExitCode.ErrUnimplemented, why), stderr, prefix, null);
            }

            var log = new AgentLogger(stderr, sink, env.Debug);
            var timeout = TimeoutOf(env, declared);
            var context = new OcfContext(agent, declared?.Name ?? action, env, log, timeout, Deadline.After(Deadline.BudgetFor(timeout)));
            log.LogDebug("{Action} (timeout {Timeout}s, depth {Depth})", context.Action, timeout.TotalSeconds, context.CheckLevel);
            return Finish(ExitCodeRules.Apply(context.Action, Guard(() => Perform(agent, declared, context), context)), stderr, prefix, log);
        }
        catch (OperationException e)
        {
            return Finish(ExitCodeRules.Apply(args.Count > 0 ? args[0] : "", OcfResult.Of(e)), stderr, prefix, null);
        }
        catch (Exception e)
        {
            return Finish(Internal(e), stderr, prefix, null);
        }
    }

    /// <summary>The action after the parameter checks. start and validate-all refuse any problem
    /// (OCF_ERR_CONFIGURED). Every other action needs its required parameters, but a value it may
    /// not even read must not stop it: a stop that fails makes pacemaker fence the node, so a typo in
    /// a tuning parameter would fence every node where the resource is probed. Those actions log the
    /// problem and go on; a value they do read and cannot use fails them (and, by
    /// <see cref="ExitCodeRules"/>, with 1: the resource is then stopped, and start refuses).</summary>
    private static OcfResult Perform(ResourceAgent agent, OcfAction? declared, OcfContext context)
    {
        if (context.MissingRequired() is { } missing) return OcfResult.Configured(missing);
        var problem = context.InvalidValue() ??
            (Guard(() => agent.ValidateConfiguration(context), context) is { IsSuccess: false } invalid ? invalid.Reason ?? "invalid configuration" : null);
        if (problem is not null)
        {
            if (ExitCodeRules.ChecksConfiguration(context.Action)) return OcfResult.Configured(problem);
            context.Log.LogWarning("{Problem} (start would refuse this configuration)", problem);
        }
        return declared is null ? ValidateAll(agent, context) : Invoke(declared, context);
    }

    private static OcfResult ValidateAll(ResourceAgent agent, OcfContext context) =>
        context.CheckLevel >= 10 ? Guard(() => agent.ValidateHost(context), context) : OcfResult.Success;

    private static OcfResult Invoke(OcfAction action, OcfContext context) => Guard(() => action.Handler(context), context);

    private static OcfResult Guard(Func<OcfResult> handler, OcfContext context)
    {
        try { return handler(); }
        catch (OperationException e) { return OcfResult.Of(e); }
        catch (Exception e)
        {
            context.Log.LogDebug(e, "unexpected exception in {Action}", context.Action);
            return Internal(e);
        }
    }

    private static OcfResult Internal(Exception e) =>
        OcfResult.Generic($"internal error: {e.GetType().Name}: {OneLine.Of(e.Message, 200)}");

    /// <summary>Status is the LSB name for monitor; agents that do not declare it get monitor.</summary>
    private static OcfAction? FindAction(ResourceAgent agent, string name) =>
        agent.Actions.FirstOrDefault(a => a.Name == name)
        ?? (name == "status" ? agent.Actions.FirstOrDefault(a => a.Name == "monitor") : null);

    /// <summary>The operation timeout: pacemaker's, else the declared default for the action.</summary>
    private static TimeSpan TimeoutOf(OcfEnvironment env, OcfAction? action) =>
        env.Meta.Timeout is { } t && t > TimeSpan.Zero ? t : action?.Timeout ?? BuiltInActions.ValidateAll.Timeout;

    private static int Finish(OcfResult result, TextWriter stderr, string prefix, ILogger? log)
    {
        if (!string.IsNullOrEmpty(result.Reason))
        {
            var reason = OneLine.Of(result.Reason, 1000);
            if (IsFailure(result.Code)) log?.LogError("{Reason}", reason);
            else log?.LogInformation("{Reason}", reason);
            // Pacemaker keeps at most 128 bytes of the reason; cut it cleanly ourselves.
            try { stderr.WriteLine(prefix + OneLine.FitBytes(reason, 128)); } catch (IOException) { }
        }
        return (int)result.Code;
    }

    private static bool IsFailure(OcfExitCode code) => code is not (OcfExitCode.Success or OcfExitCode.NotRunning
        or OcfExitCode.RunningPromoted or OcfExitCode.Degraded or OcfExitCode.DegradedPromoted);

    private static void ReportAndExit(TextWriter stderr, string prefix, string reason)
    {
        try { stderr.WriteLine(prefix + OneLine.FitBytes(OneLine.Of(reason), 128)); stderr.Flush(); } catch (IOException) { }
        Posix.Exit((int)OcfExitCode.ErrGeneric);
    }
}
