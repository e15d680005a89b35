using System.Diagnostics;
using KvmOcf.Libvirt;
using KvmOcf.Ocf;
using Microsoft.Extensions.Logging;
using static KvmOcf.VirtualDomain.VirtualDomainAgent;

namespace KvmOcf.VirtualDomain;

/// <summary>migrate_to: check the target first, then a live migration bounded by the deadline,
/// its progress logged, aborted (and reported) if it cannot finish in time.</summary>
internal sealed partial class Guest
{
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(10);

    public OcfResult MigrateTo()
    {
        var id = Identity();
        if (ctx.Meta.MigrateTarget is not { } target)
            return OcfResult.Args("OCF_RESKEY_CRM_meta_migrate_target is not set (pacemaker sets it for migrate_to)");
        var status = CurrentStatus(id, withInfo: false, ctx.Deadline);
        if (status.Verdict == Verdict.Failed) return OcfResult.Generic(status.Why);
        if (status.Verdict == Verdict.Stopped) return OcfResult.Generic($"{id}: migrate_to: Not active locally! ({status.Why})");

        var options = MigrationOptions.Parse(ctx.Get(MigrateOptions));
        var remote = MigrationUris.Remote(Uri, target, ctx.IsSet(RemoteUri) ? ctx.Get(RemoteUri) : null,
            ctx.Get(MigrationTransport), ctx.Get(MigrationNetworkSuffix), ctx.Get(MigrationUser));
        var data = MigrationUris.Data(ctx.IsSet(MigrateUri) ? ctx.Get(MigrateUri) : null, options.MigrateUri, Uri, target,
            ctx.Get(MigrationNetworkSuffix), ctx.Get(MigratePort));
        if (SaveConfigEnabled) SaveConfig(id, null, ctx.Deadline.Remaining / 4);

        using var hypervisor = Hypervisor.Connect(Uri, ctx.Deadline);
        using var domain = hypervisor.Lookup(id, ctx.Deadline) ?? throw new OcfException(OcfExitCode.ErrGeneric, $"{id} vanished before migrating");

        // Check the target before moving anything (the anchor's #1231: a target that cannot see the
        // config leaves a guest there that cannot be monitored).
        Hypervisor destination;
        try { destination = Hypervisor.Connect(remote, ctx.Deadline.AtMost(ctx.Deadline.Remaining / 2)); }
        catch (PeerUnreachableException e) { return OcfResult.Generic($"{id}: cannot migrate to {target}: its libvirtd ({remote}) is not reachable: {e.Reason}"); }
        using (destination)
        {
            using (var there = destination.Lookup(id, ctx.Deadline))
                if (there is not null && there.State(ctx.Deadline).State is not DomainState.Shutoff)
                    return OcfResult.Generic($"{id} already exists, active, on {target}: refusing to migrate onto it");
            if (!destination.FileExists(ctx.Get(Config), ctx.Deadline))
                return OcfResult.Generic($"{id}: cannot migrate to {target}: {ctx.Get(Config)} is not visible there");
            if (ctx.Get(StartResources) && LoadConfig(ConfigReadDeadline()) is { } config) StartPoolsAndNetworks(destination, config);

            var (flags, parameters) = MigrationSettings(options, data);
            bool peerToPeer = (flags & MigrationOptions.PeerToPeer) != 0;
            ctx.Log.LogInformation("{Domain}: Starting live migration to {Target} (using: remote {Remote}, data {Data}, {Mode}).",
                id, target, remote, data ?? "chosen by libvirt", peerToPeer ? "peer-to-peer" : "client-driven");
            var job = MigrationJob.Start(domain, peerToPeer ? null : destination, peerToPeer ? remote : null, flags, parameters);
            return Watch(job, domain, destination, id, target);
        }
    }

    private (uint Flags, List<(string, string, bool)> Parameters) MigrationSettings(MigrationOptions options, string? data)
    {
        uint flags = MigrationOptions.Live | options.Flags;
        if (ctx.Get(MigrationAutoConverge)) flags |= MigrationOptions.AutoConverge;
        if (ctx.Get(MigrationPostcopy)) flags |= MigrationOptions.Postcopy;
        var parameters = options.Parameters.Where(p => p.Name != "migrate_uri").ToList();
        if (data is not null) parameters.Add(("migrate_uri", data, false));
        if (ctx.Get(MigrationSpeed) > 0 && !parameters.Any(p => p.Name == "bandwidth"))
            parameters.Add(("bandwidth", ctx.Get(MigrationSpeed).ToString(), true));
        if (ctx.Get(MigrationParallelConnections) > 0)
        {
            flags |= MigrationOptions.Parallel;
            parameters.Add(("parallel.connections", ctx.Get(MigrationParallelConnections).ToString(), true));
        }
        foreach (var method in ctx.Get(MigrationCompression).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            flags |= MigrationOptions.Compressed;
            parameters.Add(("compression", method, false));
        }
        return (flags, parameters);
    }

    /// <summary>Waits for the migration, logging progress; sets the downtime after 2 s (as the
    /// anchor does), switches to post-copy at half time if enabled, and aborts at the deadline,
    /// keeping back enough of the timeout for the abort to take effect. The answer comes from where
    /// the guest really is afterwards, not from the job: a job that reported an error (or that was
    /// aborted) at the instant it completed has still moved the guest.</summary>
    private OcfResult Watch(MigrationJob job, Domain domain, Hypervisor destination, DomainId id, string target)
    {
        var started = Stopwatch.GetTimestamp();
        var reserve = TimeSpan.FromTicks(Math.Clamp(ctx.Timeout.Ticks / 10, TimeSpan.TicksPerSecond * 5, TimeSpan.TicksPerSecond * 30));
        var migrationDeadline = ctx.Deadline.Reserve(reserve);
        var halfTime = migrationDeadline.Remaining / 2;
        bool downtimeSet = ctx.Get(MigrationDowntime) == 0, postcopyStarted = !ctx.Get(MigrationPostcopy);
        var nextReport = ProgressEvery;
        ulong remaining = 0;
        string? aborted = null;

        while (!job.Wait(TimeSpan.FromMilliseconds(500)))
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (migrationDeadline.Expired)
            {
                ctx.Log.LogError("{Domain}: live migration to {Target} did not finish in time; aborting", id, target);
                try { domain.AbortJob(ctx.Deadline.AtMost(TimeSpan.FromSeconds(10))); }
                catch (OperationException e) { ctx.Log.LogError("aborting the migration failed: {Reason}", e.Reason); }
                job.Wait(ctx.Deadline.Remaining / 2);
                aborted = $"did not finish within {elapsed.TotalSeconds:0}s and was aborted" + (remaining > 0 ? $" ({remaining >> 20} MiB left)" : "");
                break;
            }
            try
            {
                var probe = ctx.Deadline.AtMost(TimeSpan.FromSeconds(5));
                if (!downtimeSet && elapsed >= TimeSpan.FromSeconds(2))
                {
                    domain.SetMaxDowntime(TimeSpan.FromMilliseconds(ctx.Get(MigrationDowntime)), probe);
                    ctx.Log.LogInformation("{Domain}: Setting live migration downtime to {Ms} ms.", id, ctx.Get(MigrationDowntime));
                    downtimeSet = true;
                }
                if (!postcopyStarted && elapsed >= halfTime)
                {
                    domain.StartPostCopy(probe);
                    ctx.Log.LogInformation("{Domain}: switched the migration to post-copy", id);
                    postcopyStarted = true;
                }
                if (elapsed >= nextReport)
                {
                    var info = domain.JobInfo(probe);
                    remaining = info.DataRemaining;
                    ctx.Log.LogInformation("{Domain}: migrating to {Target}: {Done} of {Total} MiB sent, {Left} MiB remaining",
                        id, target, info.DataProcessed >> 20, info.DataTotal >> 20, info.DataRemaining >> 20);
                    nextReport = elapsed + ProgressEvery;
                }
            }
            // a job that ends between two calls takes its job info with it: the outcome decides
            catch (OperationException e) { ctx.Log.LogDebug("migration progress: {Reason}", e.Reason); }
        }

        var failure = aborted ?? (job.Failure is { } f ? "failed: " + (f is OperationException o ? o.Reason : f.Message) : null);
        return Outcome(id, destination, target, failure, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Where the guest runs after the job: moved (gone here, running there) is success
    /// whatever the job said; still here and not there is the job's failure; anything else is a
    /// failure that says where the guest was seen.</summary>
    private OcfResult Outcome(DomainId id, Hypervisor destination, string target, string? failure, TimeSpan took)
    {
        var here = CurrentStatus(id, withInfo: false, ctx.Deadline).Verdict;
        DomainState? there;
        try
        {
            using var arrived = destination.Lookup(id, ctx.Deadline);
            there = arrived?.State(ctx.Deadline).State;
        }
        catch (OperationException e)
        {
            return OcfResult.Generic($"{id}: live migration to {target} {failure ?? "ended"}, and {target} cannot tell whether the guest arrived: {e.Reason}");
        }
        bool runsThere = there is DomainState.Running or DomainState.Paused or DomainState.Blocked;
        if (here == Verdict.Stopped && runsThere)
        {
            if (failure is not null) ctx.Log.LogWarning("{Domain}: the migration job reported that it {Failure}, but the guest runs on {Target}", id, failure, target);
            ctx.Log.LogInformation("{Domain}: live migration to {Target} succeeded in {Seconds:0.0}s.", id, target, took.TotalSeconds);
            return OcfResult.Success;
        }
        if (here == Verdict.Running && !runsThere && there is null or DomainState.Shutoff)
            return OcfResult.Generic($"{id}: live migration to {target} {failure ?? "ended but the guest is still here"}");
        return OcfResult.Generic($"{id}: live migration to {target} {failure ?? "ended"}; the guest is {here.ToString().ToLowerInvariant()} here and {there?.ToString().ToLowerInvariant() ?? "undefined"} on {target}");
    }
}
