using Microsoft.Extensions.Logging;
using static KvmOcf.Fence.StandardOptions;

namespace KvmOcf.Fence;

/// <summary>Runs one action of a fence agent: the fence-agents contract as pacemaker-fenced speaks
/// it and fencing.py implements it, in one place. Exit codes: 0 done (status: on), 2 status off,
/// 1 anything else — a failure of the core of any kind, a timeout, a state that cannot be confirmed:
/// "timeout is failure, not success", and a status that is not known is never "off".</summary>
public static class FenceRuntime
{
    public const int Success = 0, Failure = 1, StatusOff = 2;

    /// <summary>More than pacemaker-fenced ever writes by far; stdin beyond it is refused unread.</summary>
    internal const int MaxStdinBytes = 1 << 20;

    public static int Main(FenceAgent agent, string[] args)
    {
        var stderr = new FdWriter(2, autoFlush: true);
        var stdin = args.Length == 0 ? ReadStandardInput() : "";
        if (stdin is null) return Fail(stderr, null, $"more than {MaxStdinBytes >> 20} MiB of options on stdin");
        ILogSink? syslog = null;
        try { syslog = SyslogSink.For(agent.Name, Environment.GetEnvironmentVariable("PCMK_logfacility") ?? "daemon"); } catch (OperationException) { }
        return Run(agent, args, stdin, new FdWriter(1, autoFlush: true), stderr, syslog,
            underFenced: Environment.GetEnvironmentVariable("PCMK_service") == "pacemaker-fenced");
    }

    /// <summary>stdin as text, or null when it holds more than <see cref="MaxStdinBytes"/>.</summary>
    private static string? ReadStandardInput()
    {
        var text = new MemoryStream();
        try
        {
            using var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(0, ownsHandle: false), FileAccess.Read, 1, false);
            var buffer = new byte[64 << 10];
            int read;
            while (text.Length <= MaxStdinBytes && (read = stream.Read(buffer)) > 0) text.Write(buffer, 0, read);
        }
        catch (IOException) { }                                   // no stdin at all: no options
        return text.Length > MaxStdinBytes ? null : System.Text.Encoding.UTF8.GetString(text.GetBuffer(), 0, (int)text.Length);
    }

    /// <summary>The testable core.</summary>
    public static int Run(FenceAgent agent, IReadOnlyList<string> args, string stdin, TextWriter stdout, TextWriter stderr,
        ILogSink? sink = null, bool underFenced = false)
    {
        AgentLogger? log = null;
        try
        {
            var input = args.Count > 0 ? FenceInput.FromCommandLine(agent.Options, args) : FenceInput.FromStdin(agent.Options, stdin);
            log = new AgentLogger(stderr, sink, debug: input[Verbose] is { } v && v is not ("0" or "false" or "off" or "no"));
            foreach (var warning in input.Warnings) log.LogWarning("Parse error: {Warning}", warning);
            if (input.Help) { stdout.Write(FenceMetadata.Usage(agent)); return Success; }

            var action = input[StandardOptions.Action] is { Length: > 0 } a ? a : agent.Reboots ? "reboot" : "off";
            switch (action)
            {
                case "metadata" or "meta-data": stdout.Write(FenceMetadata.Xml(agent)); return Success;
                case "manpage": stdout.Write(FenceMetadata.ManPage(agent)); return Success;
            }
            if (!FenceMetadata.Actions(agent).Contains(action)) throw new FenceUsageException($"unknown action {OneLine.Quote(action)}");

            var probe = new FenceContext(agent, input, action, log, Deadline.After(TimeSpan.FromDays(1)));
            // the plug is not needed to list the plugs or to check the device
            bool plugFree = action is "list" or "list-status" or "monitor";
            if (agent.Options.FirstOrDefault(o => o.IsRequired && !probe.IsSet(o) && o != StandardOptions.Action && !(plugFree && o.Parameter == Plug.Parameter)) is { } missing)
                throw new FenceUsageException($"option '{missing.Name}' is required");
            if ((probe.InvalidValue() ?? agent.Validate(probe)) is { } problem) throw new FenceUsageException(problem);
            var ctx = new FenceContext(agent, input, action, log, Deadline.After(Budget(probe, underFenced)));
            return Perform(ctx, underFenced, stdout);
        }
        catch (OperationException e) { return Fail(stderr, log, e.Reason); }
        catch (Exception e)
        {
            log?.LogDebug(e, "unexpected exception");
            return Fail(stderr, log, $"internal error: {e.GetType().Name}: {OneLine.Of(e.Message, 200)}");
        }
    }

    private static int Fail(TextWriter stderr, ILogger? log, string reason)
    {
        if (log is not null) log.LogError("Failed: {Reason}", reason);
        else try { stderr.WriteLine($"ERROR: Failed: {OneLine.Of(reason, 500)}"); } catch (IOException) { }
        return Failure;
    }

    /// <summary>How long the whole action may take: the delay, then each power change and its
    /// verification. Under pacemaker-fenced (disable_timeout) its own timer ends a verification.</summary>
    private static TimeSpan Budget(FenceContext ctx, bool underFenced)
    {
        var verify = ctx.Get<TimeSpan>(PowerWait) + (DisableTimeout(ctx, underFenced) ? TimeSpan.FromMinutes(10) : ctx.Get<TimeSpan>(PowerTimeout));
        var changes = 2 + ctx.Get<long>(RetryOn);
        return ctx.Get<TimeSpan>(StandardOptions.Delay) + (verify + TimeSpan.FromSeconds(30)) * changes;
    }

    private static bool DisableTimeout(FenceContext ctx, bool underFenced) =>
        ctx.IsSet(StandardOptions.DisableTimeout) ? ctx.Get<bool>(StandardOptions.DisableTimeout) : underFenced;

    private static int Perform(FenceContext ctx, bool underFenced, TextWriter stdout)
    {
        var agent = ctx.Agent;
        switch (ctx.Action)
        {
            case "validate-all":
                return Success;
            case "list" or "list-status":
                if (!agent.HasPlugs) { stdout.WriteLine("N/A"); return Success; }
                var outlets = agent.List(ctx) ?? throw new OperationException(FailureKind.Failed, "this device cannot list its plugs");
                var separator = ctx.Get<string>(Separator);
                foreach (var o in outlets)
                    stdout.WriteLine(ctx.Action == "list" ? $"{o.Id}{separator}{o.Alias}" : $"{o.Id}{separator}{o.Alias}{separator}{StateWord(o.State)}");
                return Success;
            case "monitor":
                if (agent.HasPlugs) { _ = (agent.List(ctx) ?? throw new OperationException(FailureKind.Failed, "this device cannot list its plugs")).ToList(); return Success; }
                return Known(Status(ctx)) ? Success : Failure;
        }

        if (agent.HasPlugs && ctx.Plugs.Count == 0) throw new FenceUsageException("no plug given (plug=… or -n …)");
        var (state, why) = Status(ctx);
        if (ctx.Action == "status")
        {
            if (!Known((state, why))) throw new OperationException(FailureKind.Failed, $"status unknown: {why}");
            stdout.WriteLine($"Status: {StateWord(state)}");
            return state == PowerState.Off ? StatusOff : Success;
        }
        if (!Known((state, why))) throw new OperationException(FailureKind.Failed, $"cannot tell the power state before acting: {why}");

        var verification = new Verification(ctx, DisableTimeout(ctx, underFenced));
        if (ctx.Action is "off" or "reboot") Delay(ctx);
        switch (ctx.Action)
        {
            case "on" when state == PowerState.On:
                stdout.WriteLine("Success: Already ON");
                return Success;
            case "off" when state == PowerState.Off:
                stdout.WriteLine("Success: Already OFF");
                return Success;
            case "on":
                verification.Change(on: true, attempts: 1 + (int)ctx.Get<long>(RetryOn));
                stdout.WriteLine("Success: Powered ON");
                return Success;
            case "off":
                verification.Change(on: false, attempts: 1);
                stdout.WriteLine("Success: Powered OFF");
                return Success;
            default: // reboot
                // a plug that is off already is fenced: it only needs powering on (a BMC may refuse to cycle it)
                if (ctx.Get<string>(Method) == "cycle" && agent.Cycle is { } cycle && state != PowerState.Off)
                {
                    foreach (var plug in ctx.Plugs) verification.Cycle(cycle, plug);
                    try { verification.Confirm(on: true); }
                    catch (OperationException e) { ctx.Log.LogError("Timed out waiting to power ON: {Reason}", e.Reason); }
                }
                else
                {
                    if (state != PowerState.Off) verification.Change(on: false, attempts: 1);
                    // the node is fenced once it is off: a failure to power it on again is logged, not fatal
                    try { verification.Change(on: true, attempts: Math.Max(1, (int)ctx.Get<long>(RetryOn))); }
                    catch (OperationException e) { ctx.Log.LogError("Timed out waiting to power ON: {Reason}", e.Reason); }
                }
                stdout.WriteLine("Success: Rebooted");
                return Success;
        }
    }

    /// <summary>The state of all plugs together: unknown if any is unknown (a missing one is off only
    /// with missing_as_off), else on if any is on, else off.</summary>
    internal static (PowerState State, string Why) Status(FenceContext ctx)
    {
        var states = ctx.Plugs.Select(plug => PlugStatus(ctx, plug)).ToList();
        if (states.FirstOrDefault(s => s.State == PowerState.Unknown) is { State: PowerState.Unknown } unknown) return unknown;
        return (states.Any(s => s.State == PowerState.On) ? PowerState.On : PowerState.Off, "");
    }

    /// <summary>One plug's state as on, off or unknown (a missing plug is off only with missing_as_off).</summary>
    private static (PowerState State, string Why) PlugStatus(FenceContext ctx, string plug)
    {
        bool missingAsOff = ctx.Get<bool>(MissingAsOff);
        return ctx.Agent.Status(ctx, plug) switch
        {
            PowerState.Unknown => (PowerState.Unknown, $"the device cannot tell the state of {Named(plug)}"),
            PowerState.Missing when !missingAsOff => (PowerState.Unknown, $"the device does not know {Named(plug)} (set missing_as_off if that means off)"),
            PowerState.Missing => (PowerState.Off, ""),
            var s => (s, ""),
        };
    }

    /// <summary>A status for a poll that may ask again: a device that fails to answer (for a moment)
    /// is unknown, its reason kept, rather than the end of the action.</summary>
    private static (PowerState State, string Why) Polled(Func<(PowerState, string)> status)
    {
        try { return status(); }
        catch (OperationException e) when (e is not FenceUsageException && e.Kind != FailureKind.NotFound) { return (PowerState.Unknown, e.Reason); }
    }

    private static string Named(string plug) => plug.Length > 0 ? OneLine.Quote(plug, 80) : "the device";
    private static bool Known((PowerState State, string Why) status) => status.State is PowerState.On or PowerState.Off;
    private static string StateWord(PowerState state) => state switch { PowerState.On => "ON", PowerState.Off => "OFF", _ => "UNKNOWN" };

    private static void Delay(FenceContext ctx)
    {
        var delay = ctx.Get<TimeSpan>(StandardOptions.Delay);
        if (delay <= TimeSpan.Zero) return;
        ctx.Log.LogInformation("Delay {Seconds} second(s) before fencing", delay.TotalSeconds);
        ctx.Deadline.Sleep(delay);
    }

    /// <summary>A power change and its proof: the command, power_wait, then status polls until every
    /// plug shows the new state — within power_timeout, or (disable_timeout) until pacemaker-fenced's
    /// own timer ends the agent. Not confirmed is a failure.</summary>
    private sealed class Verification(FenceContext ctx, bool disableTimeout)
    {
        public void Change(bool on, int attempts)
        {
            string why = "";
            for (int attempt = 1; attempt <= attempts; attempt++)
            {
                foreach (var plug in ctx.Plugs) ctx.Agent.SetPower(ctx, plug, on);
                ctx.Deadline.Sleep(ctx.Get<TimeSpan>(PowerWait));
                if (TryConfirm(on, out why)) return;
                ctx.Log.LogWarning("attempt {Attempt} of {Attempts} to power {State}: {Why}", attempt, attempts, on ? "on" : "off", why);
            }
            throw new OperationException(FailureKind.TimedOut, $"could not confirm the power {(on ? "on" : "off")}: {why}");
        }

        public void Confirm(bool on)
        {
            if (!TryConfirm(on, out var why)) throw new OperationException(FailureKind.TimedOut, $"could not confirm the power {(on ? "on" : "off")}: {why}");
        }

        /// <summary>The device's own power cycle of one plug, and proof that it happened: the plug must
        /// be seen off (within power_timeout, polled without pause: a BMC keeps a cycled host off for
        /// at least 1 s, IPMI 2.0 §28.3). A cycle that was acknowledged but never seen is a failure,
        /// not a reboot.</summary>
        public void Cycle(Action<FenceContext, string> cycle, string plug)
        {
            cycle(ctx, plug);
            string last = "";
            bool seenOff = ctx.Deadline.AtMost(ctx.Get<TimeSpan>(PowerTimeout)).WaitUntil(() =>
            {
                var (state, reason) = Polled(() => PlugStatus(ctx, plug));
                last = state is PowerState.On or PowerState.Off ? $"still {StateWord(state)}" : reason;
                return state == PowerState.Off;
            }, TimeSpan.FromMilliseconds(50));
            if (!seenOff)
                throw new OperationException(FailureKind.TimedOut,
                    $"could not confirm the power cycle of {Named(plug)}: never seen off ({last} after {TimeParameter.FormatDuration(ctx.Get<TimeSpan>(PowerTimeout))})");
        }

        /// <summary>Polls until every plug shows the state: within power_timeout, or with
        /// disable_timeout until the action's deadline. A status that fails meanwhile (a device that
        /// does not answer for a moment) is polled again; it is not the state asked for.</summary>
        private bool TryConfirm(bool on, out string why)
        {
            var until = disableTimeout ? ctx.Deadline : ctx.Deadline.AtMost(ctx.Get<TimeSpan>(PowerTimeout));
            var want = on ? PowerState.On : PowerState.Off;
            string last = "";
            bool confirmed = until.WaitUntil(() =>
            {
                var (state, reason) = Polled(() => Status(ctx));
                last = state is PowerState.On or PowerState.Off ? $"still {StateWord(state)}" : reason;
                return state == want;
            }, ctx.Get<TimeSpan>(StatusSleep));
            why = confirmed ? "" : $"{last} after {(disableTimeout ? "the action's time" : TimeParameter.FormatDuration(ctx.Get<TimeSpan>(PowerTimeout)))}";
            return confirmed;
        }
    }
}
