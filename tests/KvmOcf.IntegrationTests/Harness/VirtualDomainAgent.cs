namespace KvmOcf.IntegrationTests.Harness;

/// <summary>ocf:kvmocf:VirtualDomain run on a test guest the way pacemaker runs it.</summary>
public static class VirtualDomainAgent
{
    public static string Staged => Path.Combine(Repo.StagedAgents, "VirtualDomain");

    /// <summary>What every test gives: the guest's config, its name as the instance, HA_RSCTMP where
    /// given, and no utilization written (there is no cluster to take it, or the test does not ask).</summary>
    public static Dictionary<string, string> Parameters(TestDomain d, string? rscTmp = null)
    {
        var parameters = new Dictionary<string, string>
        {
            ["config"] = d.ConfigPath, ["OCF_RESOURCE_INSTANCE"] = d.Name,
            ["autoset_utilization_cpu"] = "false", ["autoset_utilization_hv_memory"] = "false", ["autoset_utilization_host_memory"] = "false",
        };
        if (rscTmp is not null) parameters["HA_RSCTMP"] = rscTmp;
        return parameters;
    }

    /// <summary>Runs <paramref name="action"/> on <paramref name="d"/> (as a recurring monitor of
    /// <paramref name="interval"/> ms where given); <paramref name="more"/> adds or overrides
    /// parameters (OCF_/HA_ names as they are, others as OCF_RESKEY_). The staged binary runs unless
    /// <paramref name="binary"/> says which.</summary>
    public static AgentRun Run(TestDomain d, string action, TimeSpan timeout, string? rscTmp = null, string? interval = null,
        IReadOnlyDictionary<string, string>? more = null, IEnumerable<string>? prefix = null, string? binary = null)
    {
        var parameters = Parameters(d, rscTmp);
        if (interval is not null) parameters["OCF_RESKEY_CRM_meta_interval"] = interval;
        foreach (var (k, v) in more ?? new Dictionary<string, string>()) parameters[k] = v;
        return AgentRun.Run(binary ?? Staged, action, parameters, timeout, prefix);
    }
}
