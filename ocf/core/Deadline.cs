using System.Diagnostics;

namespace KvmOcf.Core;

/// <summary>A point in (monotonic) time by which work must be finished. Every wait an agent does
/// is bounded by one: pacemaker SIGKILLs the whole process group at the operation timeout, with no
/// SIGTERM first, so an agent that has not answered by then has lost its chance to say why.</summary>
public sealed class Deadline
{
    private readonly long _end;
    private CancellationTokenSource? _cts;

    private Deadline(long endTimestamp) => _end = endTimestamp;

    public static Deadline After(TimeSpan budget) =>
        new(Stopwatch.GetTimestamp() + ToTicks(budget < TimeSpan.Zero ? TimeSpan.Zero : budget));

    /// <summary>How long an action may take before its deadline: the operation timeout minus a
    /// margin that leaves time to kill children, log and report.</summary>
    public static TimeSpan BudgetFor(TimeSpan operationTimeout) => operationTimeout - MarginFor(operationTimeout);

    /// <summary>5% of the timeout, at least 0.5 s and at most 5 s (never more than a quarter of it).</summary>
    public static TimeSpan MarginFor(TimeSpan operationTimeout)
    {
        var margin = TimeSpan.FromTicks(Math.Clamp(operationTimeout.Ticks / 20, TimeSpan.TicksPerMillisecond * 500, TimeSpan.TicksPerSecond * 5));
        return TimeSpan.FromTicks(Math.Min(margin.Ticks, operationTimeout.Ticks / 4));
    }

    public TimeSpan Remaining
    {
        get
        {
            long left = _end - Stopwatch.GetTimestamp();
            return left <= 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(0, left);
        }
    }

    public bool Expired => Stopwatch.GetTimestamp() >= _end;

    /// <summary>A deadline <paramref name="keep"/> earlier than this one, e.g. the graceful part of a
    /// stop that must leave time for a forced one.</summary>
    public Deadline Reserve(TimeSpan keep) => new(Math.Max(Stopwatch.GetTimestamp(), _end - ToTicks(keep)));

    /// <summary>This deadline or <paramref name="max"/> from now, whichever is sooner.</summary>
    public Deadline AtMost(TimeSpan max) => new(Math.Min(_end, Stopwatch.GetTimestamp() + ToTicks(max)));

    /// <summary>Sleeps for <paramref name="delay"/>; if that does not fit before the deadline,
    /// sleeps until the deadline and returns false.</summary>
    public bool Sleep(TimeSpan delay)
    {
        var remaining = Remaining;
        bool fits = delay <= remaining;
        var wait = fits ? delay : remaining;
        if (wait > TimeSpan.Zero) Thread.Sleep(wait);
        return fits && !Expired;
    }

    /// <summary>Polls <paramref name="condition"/> every <paramref name="interval"/> until it holds
    /// (true) or the deadline passes (false).</summary>
    public bool WaitUntil(Func<bool> condition, TimeSpan interval)
    {
        while (true)
        {
            if (condition()) return true;
            if (Expired || !Sleep(interval)) return condition();
        }
    }

    /// <summary>Throws a timeout naming what was being done when time ran out.</summary>
    public void ThrowIfExpired(string doing)
    {
        if (Expired) throw new OperationException(FailureKind.TimedOut, $"timed out {doing}");
    }

    /// <summary>Runs <paramref name="work"/> on a worker thread and waits for it until the deadline:
    /// for calls that can block in the kernel or in a library with no timeout of their own (a stat
    /// on a hung FUSE mount, a libvirt call to a frozen daemon). At the deadline the caller gets
    /// <see cref="DeadlineExceededException"/>; the stuck thread is abandoned and dies with the process.</summary>
    public T Run<T>(string what, Func<T> work)
    {
        T result = default!;
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? failure = null;
        var worker = new Thread(() =>
        {
            try { result = work(); }
            catch (Exception e) { failure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e); }
        }) { IsBackground = true, Name = "bounded" };
        worker.Start();
        if (!worker.Join(Remaining)) throw new DeadlineExceededException(what);
        failure?.Throw();
        return result;
    }

    /// <summary>Cancelled at the deadline, for APIs that take a token.</summary>
    public CancellationToken Token
    {
        get
        {
            if (_cts is null)
            {
                var cts = new CancellationTokenSource(Remaining);
                if (Interlocked.CompareExchange(ref _cts, cts, null) is not null) cts.Dispose();
            }
            return _cts!.Token;
        }
    }

    private static long ToTicks(TimeSpan t) => (long)(Math.Min(t.TotalSeconds, 1e9) * Stopwatch.Frequency);

    public override string ToString() => $"{Remaining.TotalSeconds:0.0}s left";
}

/// <summary>Work bounded by a <see cref="Deadline"/> did not finish in time.</summary>
public sealed class DeadlineExceededException(string what) : OperationException(FailureKind.TimedOut, $"{what} did not finish in time");
