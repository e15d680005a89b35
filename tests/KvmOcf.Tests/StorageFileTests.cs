using System.Diagnostics;
using KvmOcf.Ocf;

namespace KvmOcf.Tests;

/// <summary>Files on storage that may hang: read, checked and replaced through bounded children.</summary>
public sealed class StorageFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmocf-storage-").FullName;
    private static Deadline Soon => Deadline.After(TimeSpan.FromSeconds(10));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Reads_sizes_and_tells_a_missing_file_from_a_failure()
    {
        var file = Path.Combine(_dir, "vm1.xml");
        File.WriteAllText(file, "<domain/>");
        Assert.Equal("<domain/>", StorageFile.ReadText(file, Soon));
        Assert.Equal(9, StorageFile.Size(file, Soon));
        Assert.Null(StorageFile.Size(Path.Combine(_dir, "missing"), Soon));
        var notADirectory = Path.Combine(file, "x");
        var e = Assert.Throws<IOException>(() => StorageFile.Size(notADirectory, Soon));
        Assert.Contains("Not a directory", e.Message);
        Assert.Throws<IOException>(() => StorageFile.ReadText(Path.Combine(_dir, "missing"), Soon));
    }

    [Fact]
    public void Replaces_atomically_with_mode_0600_and_leaves_nothing_behind()
    {
        var file = Path.Combine(_dir, "vm1.xml");
        File.WriteAllText(file, "old");
        File.SetUnixFileMode(file, (UnixFileMode)0b110_100_100);
        StorageFile.WriteAtomically(file, "<domain><secret/></domain>", Soon);
        Assert.Equal("<domain><secret/></domain>", File.ReadAllText(file));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal(["vm1.xml"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void A_failed_write_keeps_the_old_file_and_says_why()
    {
        var e = Assert.Throws<IOException>(() => StorageFile.WriteAtomically(Path.Combine(_dir, "no", "vm1.xml"), "x", Soon));
        Assert.StartsWith($"creating a file in {_dir}/no failed", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_read_that_hangs_is_given_up_at_the_deadline()
    {
        var fifo = Path.Combine(_dir, "hangs");
        using (var mkfifo = Process.Start("mkfifo", fifo)) mkfifo.WaitForExit();
        var started = Stopwatch.GetTimestamp();
        var e = Assert.Throws<StorageTimeoutException>(() => StorageFile.ReadText(fifo, Deadline.After(TimeSpan.FromMilliseconds(300))));
        Assert.Contains("did not finish in time", e.Message);
        Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(2));
    }

    [Fact]
    public void A_file_too_large_is_refused_not_cut()
    {
        var file = Path.Combine(_dir, "big.xml");
        File.WriteAllBytes(file, new byte[StorageFile.MaxReadBytes + 10]);
        Assert.Contains("larger than", Assert.Throws<IOException>(() => StorageFile.ReadText(file, Soon)).Message);
    }
}

/// <summary>Local files replaced atomically, in-process.</summary>
public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmocf-atomic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Replaces_with_the_given_mode_and_leaves_nothing_behind()
    {
        var file = Path.Combine(_dir, "sub", "r1.state");
        AtomicFile.Write(file, "a=1\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        AtomicFile.Write(file, "a=2\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal("a=2\n", File.ReadAllText(file));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal(["r1.state"], Directory.GetFiles(Path.Combine(_dir, "sub")).Select(Path.GetFileName));
    }
}
