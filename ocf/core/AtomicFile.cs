using System.Text;

namespace KvmOcf.Core;

/// <summary>Replaces a file on local storage atomically: readers see the old content or the new,
/// never a half-written file. A temporary file of its own next to the target (created with
/// <paramref name="mode"/>, so it is never readable by more than it should be), written and fsynced,
/// then renamed over it. Files on storage that may hang go through <see cref="StorageFile"/>.</summary>
public static class AtomicFile
{
    public static void Write(string path, string text, UnixFileMode mode)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Random.Shared.Next():x}");
        try
        {
            using (var stream = new FileStream(temporary, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = mode }))
            {
                stream.Write(Encoding.UTF8.GetBytes(text));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(temporary); } catch (IOException) { }
            throw;
        }
    }
}
