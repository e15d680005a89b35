using KvmOcf.Ocf;

namespace KvmOcf.Tests;

public class DeadlineTests
{
    [Theory]
    [InlineData(2, 0.5)]      // floor 0.5 s
    [InlineData(20, 1)]       // 5 %
    [InlineData(90, 4.5)]
    [InlineData(600, 5)]      // ceiling 5 s
    [InlineData(1, 0.25)]     // never more than a quarter of a tiny timeout
    public void Margin_is_five_percent_bounded(double timeoutSeconds, double marginSeconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(marginSeconds), Deadline.MarginFor(TimeSpan.FromSeconds(timeoutSeconds)));
        Assert.Equal(TimeSpan.FromSeconds(timeoutSeconds - marginSeconds), Deadline.BudgetFor(TimeSpan.FromSeconds(timeoutSeconds)));
    }

    [Fact]
    public void A_zero_or_negative_budget_is_already_expired()
    {
        Assert.True(Deadline.After(TimeSpan.Zero).Expired);
        Assert.True(Deadline.After(TimeSpan.FromSeconds(-3)).Expired);
        Assert.Equal(TimeSpan.Zero, Deadline.After(TimeSpan.FromSeconds(-3)).Remaining);
        var e = Assert.Throws<OperationException>(() => Deadline.After(TimeSpan.Zero).ThrowIfExpired("waiting for the guest"));
        Assert.Equal(FailureKind.TimedOut, e.Kind);
        Assert.Equal("timed out waiting for the guest", e.Reason);
    }

    [Fact]
    public void Reserve_and_AtMost_only_ever_shorten()
    {
        var d = Deadline.After(TimeSpan.FromSeconds(100));
        Assert.InRange(d.Reserve(TimeSpan.FromSeconds(30)).Remaining, TimeSpan.FromSeconds(69), TimeSpan.FromSeconds(70));
        Assert.True(d.Reserve(TimeSpan.FromSeconds(300)).Expired);
        Assert.InRange(d.AtMost(TimeSpan.FromSeconds(5)).Remaining, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(5));
        Assert.InRange(d.AtMost(TimeSpan.FromSeconds(500)).Remaining, TimeSpan.FromSeconds(99), TimeSpan.FromSeconds(100));
        Assert.False(Deadline.After(TimeSpan.MaxValue).Expired);
    }

    [Fact]
    public void WaitUntil_returns_as_soon_as_the_condition_holds()
    {
        int calls = 0;
        Assert.True(Deadline.After(TimeSpan.FromMinutes(1)).WaitUntil(() => ++calls == 3, TimeSpan.FromMilliseconds(1)));
        Assert.Equal(3, calls);
        Assert.False(Deadline.After(TimeSpan.FromMilliseconds(20)).WaitUntil(() => false, TimeSpan.FromMilliseconds(5)));
    }

    [Fact]
    public void Sleep_says_whether_the_whole_delay_fitted()
    {
        Assert.True(Deadline.After(TimeSpan.FromMinutes(1)).Sleep(TimeSpan.FromMilliseconds(1)));
        Assert.False(Deadline.After(TimeSpan.FromMilliseconds(30)).Sleep(TimeSpan.FromHours(1)));
        Assert.False(Deadline.After(TimeSpan.Zero).Sleep(TimeSpan.Zero.Add(TimeSpan.FromTicks(1))));
    }

    [Fact]
    public void Run_returns_rethrows_or_gives_up_at_the_deadline()
    {
        Assert.Equal(42, Deadline.After(TimeSpan.FromMinutes(1)).Run("answering", () => 42));
        Assert.Throws<FileNotFoundException>(() => Deadline.After(TimeSpan.FromMinutes(1)).Run<int>("reading", () => throw new FileNotFoundException("x")));
        var gate = new ManualResetEventSlim();
        var e = Assert.Throws<DeadlineExceededException>(() => Deadline.After(TimeSpan.FromMilliseconds(50)).Run("a stat on a hung mount", () => gate.Wait(TimeSpan.FromMinutes(1))));
        Assert.Equal("a stat on a hung mount did not finish in time", e.Reason);
        gate.Set();
    }

    [Fact]
    public void The_token_is_cancelled_at_the_deadline()
    {
        Assert.True(Deadline.After(TimeSpan.Zero).Token.WaitHandle.WaitOne(1000));
        Assert.False(Deadline.After(TimeSpan.FromMinutes(5)).Token.IsCancellationRequested);
    }
}
