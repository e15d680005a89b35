using Microsoft.Extensions.Logging;

namespace KvmOcf.Fence.Bmc;

/// <summary>fence_bmc — powers a host off and on through its BMC over IPMI 2.0 (RMCP+), with
/// ipmitool (a well-kept implementation of the protocol). Unlike fence_ipmilan the password never
/// reaches a command line (ipmitool -E reads it from the environment), lanplus is the default, and
/// the cipher suite is negotiated once per BMC and remembered (without one, ipmitool asks the BMC for
/// its suites on every call, which costs seconds on many BMCs). Every call is bounded; a dead BMC
/// fails after <see cref="DeadBmcTime"/> (10 s with the default ipmitool_timeout of 2 s).</summary>
public sealed class BmcFence : FenceAgent
{
    public static readonly BooleanParameter Lanplus = new("lanplus")
    {
        Default = true,
        ShortDescription = "Use Lanplus (IPMI 2.0, RMCP+) to improve security of connection",
        LongDescription = "false falls back to IPMI 1.5 (lan), which sends the password in the clear on some BMCs.",
    };

    public static readonly IntegerParameter Cipher = new("cipher")
    {
        Default = -1, Minimum = -1, Maximum = 255,
        ShortDescription = "Ciphersuite to use (same as ipmitool -C parameter); -1: negotiated once and remembered",
        LongDescription = "Without it the agent tries the suites in order of strength (17, 3, 8, 2, 1, 0 …) once and keeps the " +
            "first the BMC accepts in /run/kvmocf.",
    };

    public static readonly SelectParameter PrivilegeLevel = new("privlvl", "callback", "user", "operator", "administrator")
    {
        Default = "administrator",
        ShortDescription = "Privilege level on IPMI device",
        LongDescription = "The level to ask for; chassis power control needs operator or administrator.",
    };

    public static readonly StringParameter IpmitoolPath = new("ipmitool_path")
    {
        Default = "ipmitool",
        ShortDescription = "Path to ipmitool binary",
        LongDescription = "The ipmitool to run.",
    };

    public static readonly TimeParameter IpmitoolTimeout = new("ipmitool_timeout")
    {
        Default = TimeSpan.FromSeconds(2), Minimum = TimeSpan.FromSeconds(1), Maximum = TimeSpan.FromMinutes(1),
        ShortDescription = "Timeout (sec) for IPMI operation",
        LongDescription = "ipmitool's own timeout per message (-N). ipmitool tries each message twice and waits a second " +
            "longer the second time, for the two messages that open a session: a BMC that does not answer at all fails the " +
            "action after 4 × this + 2 s (10 s by default; fence_ipmilan: 20 s).",
    };

    /// <summary>ipmitool's -R: each message is sent this many times in all.</summary>
    private const int Tries = 2;

    /// <summary>How long ipmitool takes to give up on a BMC that does not answer: it waits N, N+1 …
    /// seconds for the reply to each of the two messages that open a session (measured with ipmitool
    /// 1.8.19: -N 2 -R 2 → 10 s).</summary>
    internal static TimeSpan DeadBmcTime(TimeSpan timeout)
    {
        int n = (int)Math.Ceiling(timeout.TotalSeconds);
        return TimeSpan.FromSeconds(2 * Enumerable.Range(0, Tries).Sum(k => n + k));
    }

    public override string Name => "fence_bmc";
    public override string ShortDescription => "Fence agent for hosts with an IPMI 2.0 BMC (power off and on through ipmitool)";
    public override string LongDescription =>
        "fence_bmc powers a host off, on or cycles it through its baseboard management controller over IPMI 2.0 (lanplus), " +
        "with ipmitool. The password is handed to ipmitool through the environment (-E), never on a command line. Every " +
        "power change is verified by reading the chassis power state; method=cycle is verified too. Remember that an " +
        "on-board BMC shares the host's power: a host that lost power cannot be confirmed off, so pair it with a second " +
        "fencing level (a fencing topology).";

    public override IReadOnlyList<FenceOption> Options =>
    [
        .. StandardOptions.Common, StandardOptions.Ip with { Required = true }, StandardOptions.IpPort, StandardOptions.Username, StandardOptions.Password,
        StandardOptions.PasswordScript, StandardOptions.Method, new FenceOption(Lanplus, 'P'), new FenceOption(Cipher, 'C'),
        new FenceOption(PrivilegeLevel, 'L'), new FenceOption(IpmitoolPath), new FenceOption(IpmitoolTimeout),
    ];

    private static readonly int[] Suites = [17, 3, 8, 2, 1, 0];

    public override PowerState Status(FenceContext ctx, string plug)
    {
        var output = Ipmitool(ctx, "chassis", "power", "status");
        return output.Contains("is on", StringComparison.OrdinalIgnoreCase) ? PowerState.On
            : output.Contains("is off", StringComparison.OrdinalIgnoreCase) ? PowerState.Off
            : PowerState.Unknown;
    }

    public override void SetPower(FenceContext ctx, string plug, bool on) => Ipmitool(ctx, "chassis", "power", on ? "on" : "off");

    public override Action<FenceContext, string>? Cycle => (ctx, _) => Ipmitool(ctx, "chassis", "power", "cycle");

    /// <summary>Runs ipmitool against the BMC, the password in its environment; its output, or a
    /// failure that says what went wrong (no answer, refused credentials, another error).</summary>
    private string Ipmitool(FenceContext ctx, params string[] command)
    {
        if (!ctx.Get(Lanplus)) return Succeeded(ctx, Run(ctx, -1, command));
        var (cipher, remembered) = ChosenCipher(ctx);
        var result = Run(ctx, cipher, command);
        if (remembered && !result.Succeeded && UnsupportedSuite(Said(result)))
        {
            // the BMC no longer offers the suite it once took (new firmware, another BMC at that address)
            ctx.Log.LogWarning("BMC {Ip}: cipher suite {Suite} is no longer offered; negotiating again", ctx.Text(StandardOptions.Ip), cipher);
            Forget(ctx);
            (cipher, _) = ChosenCipher(ctx);
            result = Run(ctx, cipher, command);
        }
        return Succeeded(ctx, result);
    }

    private static string Succeeded(FenceContext ctx, CommandResult result) => result.Succeeded ? result.StandardOutput : throw Failure(ctx, result);

    private CommandResult Run(FenceContext ctx, int cipher, string[] command)
    {
        var timeout = ctx.Get(IpmitoolTimeout);
        var args = new List<string> { "-I", ctx.Get(Lanplus) ? "lanplus" : "lan", "-H", ctx.Text(StandardOptions.Ip),
            "-U", ctx.Text(StandardOptions.Username), "-E", "-L", ctx.Get(PrivilegeLevel).ToUpperInvariant(),
            "-N", ((int)Math.Ceiling(timeout.TotalSeconds)).ToString(), "-R", Tries.ToString() };
        if (ctx.Get<long>(StandardOptions.IpPort) is > 0 and var port) args.AddRange(["-p", port.ToString()]);
        if (cipher >= 0) args.AddRange(["-C", cipher.ToString()]);
        var ipmitool = new Command(ctx.Get(IpmitoolPath)).WithArguments([.. args, .. command])
            .WithEnvironment("IPMI_PASSWORD", ctx.Password).WithEnvironment("IPMITOOL_PASSWORD", null);
        // ipmitool gives up by itself after DeadBmcTime; the cap is for an ipmitool that hangs anyway
        var cap = DeadBmcTime(timeout) + TimeSpan.FromSeconds(3);
        try { return ctx.Run(ipmitool, cap); }
        catch (CommandTimeoutException e) when (!ctx.Deadline.Expired)
        {
            throw new OperationException(FailureKind.Unreachable, $"the BMC {ctx.Text(StandardOptions.Ip)} does not answer: {e.Reason}");
        }
    }

    private static string Said(CommandResult result) => OneLine.Of(result.StandardError + " " + result.StandardOutput, 300);

    /// <summary>What a failed ipmitool call means. ipmitool says "Unable to establish IPMI v2 / RMCP+
    /// session" for a dead BMC and for refused credentials alike: a BMC that took ipmitool's whole
    /// timeout did not answer; one that answered at once refused.</summary>
    private static OperationException Failure(FenceContext ctx, CommandResult result)
    {
        var bmc = ctx.Text(StandardOptions.Ip);
        var said = Said(result);
        if (ctx.Password.Length > 0) said = said.Replace(ctx.Password, "***");
        if (UnsupportedSuite(said)) return new OperationException(FailureKind.Failed, $"the BMC {bmc} does not offer that cipher suite: {said}");
        if (result.Duration >= ctx.Get(IpmitoolTimeout))
            return new OperationException(FailureKind.Unreachable, $"the BMC {bmc} does not answer (after {result.Duration.TotalSeconds:0.0}s): {said}");
        if (said.Contains("Unable to establish", StringComparison.Ordinal))
            return new OperationException(FailureKind.Refused, $"the BMC {bmc} refused the session (wrong username or password, or privilege level?): {said}");
        return new OperationException(FailureKind.Failed, $"ipmitool exited {result.ExitCode}: {said}");
    }

    private static bool UnsupportedSuite(string said) =>
        said.Contains("invalid authentication algorithm") || said.Contains("invalid integrity algorithm") || said.Contains("invalid confidentiality algorithm");

    /// <summary>The cipher suite: the option, else the one remembered for this BMC, else the first
    /// of <see cref="Suites"/> the BMC accepts (and then remembered).</summary>
    private (int Suite, bool Remembered) ChosenCipher(FenceContext ctx)
    {
        if (ctx.Get(Cipher) >= 0) return ((int)ctx.Get(Cipher), false);
        var memory = Memory(ctx);
        try { if (int.TryParse(File.ReadAllText(memory).Trim(), out var remembered) && remembered is >= 0 and <= 255) return (remembered, true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }

        CommandResult? last = null;
        foreach (var suite in Suites)
        {
            last = Run(ctx, suite, ["chassis", "power", "status"]);
            if (last.Succeeded)
            {
                ctx.Log.LogInformation("BMC {Ip}: cipher suite {Suite}", ctx.Text(StandardOptions.Ip), suite);
                try { AtomicFile.Write(memory, suite + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { ctx.Log.LogDebug("not remembered: {Why}", e.Message); }
                return (suite, false);
            }
            if (!UnsupportedSuite(Said(last))) throw Failure(ctx, last);
        }
        throw Failure(ctx, last!);
    }

    /// <summary>Where the suite negotiated with this BMC is remembered (until the next boot).</summary>
    internal const string MemoryDirectory = "/run/kvmocf";

    private static string Memory(FenceContext ctx) =>
        Path.Combine(MemoryDirectory, $"fence_bmc-{Safe(ctx.Text(StandardOptions.Ip))}-{ctx.Get<long>(StandardOptions.IpPort)}.cipher");

    private static void Forget(FenceContext ctx)
    {
        try { File.Delete(Memory(ctx)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { ctx.Log.LogDebug("not forgotten: {Why}", e.Message); }
    }

    private static string Safe(string text) => string.Concat(text.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_'));
}
