namespace KvmOcf.Drbd;

/// <summary>Where a resource's state comes from: one structured output of drbdsetup, read into
/// <see cref="ResourceStatus"/>. DRBD 8.4 (through drbdsetup-84) has events2 but no JSON; DRBD 9
/// has both, and its JSON status is the documented machine-readable form.</summary>
public interface IDrbdStatusSource
{
    /// <summary>The drbdsetup command that prints every resource's state.</summary>
    Command Command { get; }

    /// <summary>Every resource the output describes, by name.</summary>
    /// <exception cref="FormatException">Output that is not what drbdsetup prints.</exception>
    IReadOnlyDictionary<string, ResourceStatus> Parse(string output);
}

/// <summary><c>drbdsetup events2 --now all</c> (DRBD 8.4; also understood on 9).</summary>
public sealed class Events2Source(bool drbd84) : IDrbdStatusSource
{
    public Command Command { get; } = new Command("drbdsetup").WithArguments("events2", "--now", "all");

    public IReadOnlyDictionary<string, ResourceStatus> Parse(string output)
    {
        var all = Events2.Parse(output);
        return drbd84 ? all.ToDictionary(kv => kv.Key, kv => WithThePeer(kv.Value), StringComparer.Ordinal) : all;
    }

    /// <summary>A DRBD 8.4 resource always has its one peer, configured: when events2 reports no
    /// connection (StandAlone) or no peer volume, that peer's disks are unknown (DUnknown), as
    /// /proc/drbd and the anchor's sh-status reading have it.</summary>
    public static ResourceStatus WithThePeer(ResourceStatus s)
    {
        if (!s.IsConfigured) return s;
        var c = s.Connections.Count > 0 ? s.Connections[0]
            : new Connection(null, "", ConnectionStates.StandAlone, Roles.Unknown, []);
        var peerVolumes = s.Volumes.Select(v => c.PeerVolumes.FirstOrDefault(p => p.Number == v.Number)
            ?? new PeerVolume(v.Number, "Off", DiskStates.DUnknown)).ToList();
        return s with { Connections = [c with { PeerVolumes = peerVolumes }] };
    }
}

/// <summary><c>drbdsetup status --json all</c> (DRBD 9 only).</summary>
public sealed class StatusJsonSource : IDrbdStatusSource
{
    public Command Command { get; } = new Command("drbdsetup").WithArguments("status", "--json", "all");
    public IReadOnlyDictionary<string, ResourceStatus> Parse(string output) => StatusJson.Parse(output);
}

/// <summary>The DRBD kernel module on this node: loaded or not, its version, a resource's state.</summary>
public sealed class DrbdKernel(Func<Command, CommandResult> run)
{
    /// <summary>/proc/drbd, or null when the module is not loaded.</summary>
    public ProcDrbd? Proc()
    {
        try { return ProcDrbd.Parse(File.ReadAllText(ProcDrbd.Path)); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
    }

    /// <summary>The source for the module's version: JSON on DRBD 9, events2 on 8.4.</summary>
    public static IDrbdStatusSource SourceFor(DrbdVersion version) =>
        version.Is9OrLater ? new StatusJsonSource() : new Events2Source(drbd84: true);

    /// <summary>The resource's state; null when the module is not loaded or has no such resource.</summary>
    /// <exception cref="OperationException">drbdsetup failed, timed out or printed something else.</exception>
    public ResourceStatus? Status(string resource)
    {
        var proc = Proc();
        if (proc is null) return null;
        var version = proc.Version ?? throw new OperationException(FailureKind.Failed, "/proc/drbd names no DRBD version");
        var source = SourceFor(version);
        var result = run(source.Command);
        if (!result.Succeeded)
            throw new OperationException(FailureKind.Failed, $"{string.Join(' ', source.Command.Arguments.Take(2).Prepend("drbdsetup"))} failed (exit {result.ExitCode}): {result.Summary}");
        try { return source.Parse(result.StandardOutput).GetValueOrDefault(resource); }
        catch (FormatException e) { throw new OperationException(FailureKind.Failed, $"cannot read drbdsetup's output: {e.Message}", e); }
    }
}
