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
        if (SaveConfigEnabled) SaveConfig(id);

        using var hypervisor = Hypervisor.Connect(Uri, ctx.Deadline);
        using var domain = hypervisor.Lookup(id, ctx.Deadline) ?? throw new OcfException(OcfExitCode.ErrGeneric, $"{id} vanished before migrating");

        // Check the target before moving anything (the anchor's #1231: a target that cannot see the
        // config leaves a guest there that cannot be monitored).
        Hypervisor destination;
        try { destination = Hypervisor.Connect(remote, ctx.Deadline.AtMost(Half(ctx.Deadline))); }
        catch (PeerUnreachableException e) { return OcfResult.Generic($"{id}: cannot migrate to {target}: its libvirtd ({remote}) is not reachable: {e.Reason}"); }
        using (destination)
        {
            using (var there = destination.Lookup(id, ctx.Deadline))
                if (there is not null && there.State(ctx.Deadline).State is not DomainState.Shutoff)
                    return OcfResult.Generic($"{id} already exists, active, on {target}: refusing to migrate onto it");
            if (!destination.FileExists(ctx.Get(Config), ctx.Deadline))
                return OcfResult.Generic($"{id}: cannot migrate to {target}: {ctx.Get(Config)} is not visible there");
            if (ctx.Get(StartResources) && LoadConfig() is { } config) StartPoolsAndNetworks(destination, config);

            var (flags, parameters) = MigrationSettings(options, data);
            bool peerToPeer = (flags & MigrationOptions.PeerToPeer) != 0;
            ctx.Log.LogInformation("{Domain}: Starting live migration to {Target} (using: remote {Remote}, data {Data}, {Mode}).",
                id, target, remote, data ?? "chosen by libvirt", peerToPeer ? "peer-to-peer" : "client-driven");
            var job = MigrationJob.Start(domain, peerToPeer ? null : destination, peerToPeer ? remote : null, flags, parameters);
            return Watch(job, domain, id, target);
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
    /// keeping back enough of the timeout for the abort to take effect.</summary>
    private OcfResult Watch(MigrationJob job, Domain domain, DomainId id, string target)
    {
        var started = Stopwatch.GetTimestamp();
        var reserve = TimeSpan.FromTicks(Math.Clamp(ctx.Timeout.Ticks / 10, TimeSpan.TicksPerSecond * 5, TimeSpan.TicksPerSecond * 30));
        var migrationDeadline = ctx.Deadline.Reserve(reserve);
        var halfTime = migrationDeadline.Remaining / 2;
        bool downtimeSet = ctx.Get(MigrationDowntime) == 0, postcopyStarted = !ctx.Get(MigrationPostcopy);
        var nextReport = ProgressEvery;
        ulong remaining = 0;

        while (!job.Wait(TimeSpan.FromMilliseconds(500)))
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (migrationDeadline.Expired)
            {
                ctx.Log.LogError("{Domain}: live migration to {Target} did not finish in time; aborting", id, target);
                try { domain.AbortJob(ctx.Deadline.AtMost(TimeSpan.FromSeconds(10))); }
                catch (OcfException e) { ctx.Log.LogError("aborting the migration failed: {Reason}", e.Reason); }
                job.Wait(ctx.Deadline.Remaining);
                return OcfResult.Generic($"{id}: live migration to {target} did not finish within {elapsed.TotalSeconds:0}s and was aborted" +
                    (remaining > 0 ? $" ({remaining >> 20} MiB left)" : ""));
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
            catch (OcfException e) when (!job.Finished) { ctx.Log.LogDebug("migration progress: {Reason}", e.Reason); }
        }

        if (job.Failure is { } failure)
        {
            var why = failure is OcfException o ? o.Reason : failure.Message;
            return OcfResult.Generic($"{id}: live migration to {target} failed: {why}");
        }
        ctx.Log.LogInformation("{Domain}: live migration to {Target} succeeded in {Seconds:0.0}s.", id, target, Stopwatch.GetElapsedTime(started).TotalSeconds);
        return OcfResult.Success;
    }
}
