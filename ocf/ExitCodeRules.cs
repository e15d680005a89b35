namespace KvmOcf.Ocf;

/// <summary>Which exit codes each action may answer, applied to every result on its way out, so an
/// agent cannot make pacemaker believe a resource stopped by mistake, nor fence a node for a typo:
/// <list type="bullet">
/// <item>"not running" (7) is a monitor's answer only; from any other action it is a bug, and 1.</item>
/// <item>"invalid on this host" (2), "not installed" (5) and "invalid everywhere" (6) are answers of
/// start and validate-all only. Pacemaker ≥ 2.1.3 reads 2 or 5 from a probe as "not running"
/// (<c>pcmk_xe_mask_probe_failure</c>), so a probe that could not read a config on unmounted storage
/// would let the guest start a second time elsewhere; a stop that fails with any code gets its node
/// fenced. On monitor, stop and migration they mean "could not tell" or "could not do it", which is 1:
/// pacemaker then recovers the resource, and start says what is wrong.</item>
/// </list></summary>
public static class ExitCodeRules
{
    private static readonly HashSet<string> ConfigurationChecks = ["start", "validate-all"];

    /// <summary>Whether the action refuses a configuration problem outright.</summary>
    public static bool ChecksConfiguration(string action) => ConfigurationChecks.Contains(action);

    public static OcfResult Apply(string action, OcfResult result) => result.Code switch
    {
        OcfExitCode.NotRunning when action != "monitor" =>
            OcfResult.Generic($"{action} cannot answer 'not running'{Because(result)}"),
        OcfExitCode.ErrArgs or OcfExitCode.ErrInstalled or OcfExitCode.ErrConfigured when !ChecksConfiguration(action) =>
            OcfResult.Generic(result.Reason ?? $"{action} could not tell ({result.Code})"),
        _ => result,
    };

    private static string Because(OcfResult result) => result.Reason is { Length: > 0 } why ? ": " + why : "";
}
