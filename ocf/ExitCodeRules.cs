namespace KvmOcf.Ocf;

/// <summary>Which exit codes each action may answer, applied to every result on its way out, so an
/// agent cannot make pacemaker believe a resource stopped by mistake:
/// <list type="bullet">
/// <item>"not running" (7) is a monitor's answer only; from any other action it is a bug, and 1.</item>
/// <item>"invalid on this host" (2) and "not installed" (5) are answers of start and validate-all
/// only. Pacemaker ≥ 2.1.3 reads either from a probe as "not running"
/// (<c>pcmk_xe_mask_probe_failure</c>), so a probe that could not read a config on unmounted storage
/// would let the guest start a second time elsewhere; on monitor, stop and migration they mean
/// "could not tell", which is 1.</item>
/// </list>
/// 6 (invalid everywhere) stays: it stops the resource cluster-wide and cannot start it twice.</summary>
public static class ExitCodeRules
{
    private static readonly HashSet<string> HostChecks = ["start", "validate-all"];

    public static OcfResult Apply(string action, OcfResult result) => result.Code switch
    {
        OcfExitCode.NotRunning when action != "monitor" =>
            OcfResult.Generic($"{action} cannot answer 'not running'{Because(result)}"),
        OcfExitCode.ErrArgs or OcfExitCode.ErrInstalled when !HostChecks.Contains(action) =>
            OcfResult.Generic(result.Reason ?? $"{action} could not tell ({result.Code})"),
        _ => result,
    };

    private static string Because(OcfResult result) => result.Reason is { Length: > 0 } why ? ": " + why : "";
}
