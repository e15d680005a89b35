using System.Globalization;
using KvmOcf.Drbd;

namespace KvmOcf.DrbdDevice;

/// <summary>The four values of <c>adjust_master_score</c>: the promotion score for a node with
/// only Consistent data, with only a peer's UpToDate data, UpToDate here with the peer's data
/// unknown, and UpToDate here with the peer's known (or Primary here).</summary>
public sealed record ScoreValues(long OnlyConsistent, long OnlyRemote, long LocalOk, long AsGoodAsItGets)
{
    public static readonly ScoreValues Default = new(0, 10, 1000, 10000);
    public const string DefaultText = "0 10 1000 10000";

    /// <summary>Four whole numbers ≥ 0, separated by white space, each at least the one before.</summary>
    public static bool TryParse(string text, out ScoreValues values, out string problem)
    {
        values = Default;
        problem = "";
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var numbers = new long[words.Length];
        for (int i = 0; i < words.Length; i++)
            if (!long.TryParse(words[i], NumberStyles.None, CultureInfo.InvariantCulture, out numbers[i]) || numbers[i] > 1_000_000)
            {
                problem = $"has '{OneLine.Of(words[i], 20)}', which is not a score between 0 and 1000000";
                return false;
            }
        if (numbers.Length != 4) { problem = $"has {numbers.Length} values, not 4"; return false; }
        for (int i = 1; i < 4; i++)
            if (numbers[i] < numbers[i - 1]) { problem = $"decreases ({numbers[i - 1]} before {numbers[i]})"; return false; }
        values = new ScoreValues(numbers[0], numbers[1], numbers[2], numbers[3]);
        return true;
    }
}

/// <summary><c>remove_master_score_if_peer_primary</c>: never (false), whenever connected to a
/// healthy Primary (true), or only when pacemaker knows of no Primary (unexpected).</summary>
public enum PeerPrimaryPolicy { Ignore, Remove, RemoveIfUnexpected }

/// <summary>What to do with this node's promotion score.</summary>
public readonly record struct ScoreDecision(ScoreDecision.Kind Action, long Value, string Why, bool Unfence = false)
{
    public enum Kind { Set, Remove, Leave }

    public static ScoreDecision Set(long value, string why, bool unfence = false) =>
        value > 0 ? new(Kind.Set, value, why, unfence) : new(Kind.Remove, 0, $"{why} (score {value}: not promotable)", unfence);
    public static ScoreDecision Remove(string why) => new(Kind.Remove, 0, why);
    public static ScoreDecision Leave(string why) => new(Kind.Leave, 0, why);

    public override string ToString() => Action switch
    {
        Kind.Set => $"score {Value}: {Why}",
        Kind.Remove => $"no score: {Why}",
        _ => $"score unchanged: {Why}",
    };
}

/// <summary>The anchor's promotion-score table (ocf:linbit:drbd <c>drbd_update_master_score</c>):
/// from the disk states here and on the peers, the roles and quorum, which score this node gets —
/// or that it has none (pacemaker must not promote it), or that it stays as it is (a transition is
/// under way). A score of 0 or less is no score.</summary>
public static class Promotion
{
    /// <param name="pacemakerKnowsPrimaryPeer">Asked only for the "unexpected" policy: does pacemaker
    /// see this resource promoted on another node (crm_resource --locate)?</param>
    public static ScoreDecision Decide(StatusSummary s, ScoreValues v, PeerPrimaryPolicy policy, int promotedMax,
        bool unfenceIfAllUpToDate, Func<bool> pacemakerKnowsPrimaryPeer)
    {
        if (s.Unconfigured) return ScoreDecision.Remove("not configured");
        if (!s.HaveQuorum) return ScoreDecision.Remove("no quorum");

        if (policy != PeerPrimaryPolicy.Ignore && !s.Primary && s.SomePeerPrimary && s.SomePeerAllUpToDate)
        {
            if (policy == PeerPrimaryPolicy.Remove) return ScoreDecision.Remove("connected to a healthy Primary peer");
            if (promotedMax == 1 && !pacemakerKnowsPrimaryPeer())
                return ScoreDecision.Remove("connected to a Primary peer that pacemaker does not know about");
        }

        if (s.DisklessClient)
        {
            if (s.Primary && s.SomePeerAllUpToDate) return ScoreDecision.Set(v.AsGoodAsItGets - 1, "diskless client, Primary with access to UpToDate data");
            if (s.PeerDisksAllUpToDate) return ScoreDecision.Set(v.AsGoodAsItGets - 1, "diskless client, every peer UpToDate");
            if (s.SomePeerAllUpToDate) return ScoreDecision.Set(v.LocalOk - 1, "diskless client, some peer UpToDate");
            return ScoreDecision.Remove("diskless client without access to UpToDate data");
        }
        if (s.DiskAllUpToDate)
        {
            if (s.Primary)
                return ScoreDecision.Set(v.AsGoodAsItGets, "Primary, UpToDate", unfence: unfenceIfAllUpToDate && s.PeerDisksAllUpToDate);
            return s.PeerDiskAnyUnknown
                ? ScoreDecision.Set(v.LocalOk, "UpToDate, a peer's disk unknown")
                : ScoreDecision.Set(v.AsGoodAsItGets, "UpToDate, the peers' disks known");
        }
        if (s.SomePeerAllUpToDate) return ScoreDecision.Set(v.OnlyRemote, "not UpToDate here, a peer is");
        if (s.DiskTransitional) return ScoreDecision.Leave("disk state in transition");
        if (s.DiskAllConsistent) return ScoreDecision.Set(v.OnlyConsistent, "only Consistent data");
        return ScoreDecision.Remove("no usable data (Inconsistent, Outdated, Diskless or Failed)");
    }
}
