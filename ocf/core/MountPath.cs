using System.Text;

namespace KvmOcf.Core;

/// <summary>Mount points in the one form the kernel's mount table uses: absolute, no empty, "."
/// or ".." components, no trailing slash. Any other spelling compared with the table makes a
/// mounted volume look unmounted (a probe says "not running", a stop says "stopped").</summary>
public static class MountPath
{
    /// <summary>The canonical form of <paramref name="path"/>, or null and what is wrong with it.
    /// Worked out from the text alone: ".." is refused, not resolved, since through a symlink it
    /// leads somewhere else than the text says (symlinks themselves are the caller's, see
    /// <c>realpath</c> at start).</summary>
    public static string? Canonical(string path, out string problem)
    {
        problem = "";
        if (!path.StartsWith('/')) problem = "is not an absolute path";
        else if (path.Any(char.IsControl)) problem = "contains a control character";
        else if (Encoding.UTF8.GetByteCount(path) >= 4096) problem = "is longer than PATH_MAX";
        if (problem.Length > 0) return null;

        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".").ToList();
        if (parts.Contains("..")) problem = "contains '..' (name the directory itself)";
        else if (parts.Any(p => Encoding.UTF8.GetByteCount(p) > 255)) problem = "has a name longer than 255 bytes";
        else if (parts.Count == 0) problem = "is the root directory";
        return problem.Length > 0 ? null : "/" + string.Join('/', parts);
    }

    /// <summary>The canonical form, or the text itself when it has none (for paths the kernel or a
    /// daemon wrote, which are canonical already but may end in '/').</summary>
    public static string Canonical(string path) => Canonical(path, out _) ?? path;

    /// <summary>Whether <paramref name="path"/> is <paramref name="directory"/> or inside it (both
    /// canonical; /mnt/vm is not inside /mnt/v).</summary>
    public static bool IsUnder(string path, string directory) =>
        path == directory || directory == "/" || path.StartsWith(directory + "/", StringComparison.Ordinal);

    /// <summary>Whether one of the two is the other or inside it.</summary>
    public static bool Overlap(string a, string b) => IsUnder(a, b) || IsUnder(b, a);

    /// <summary>The first of <paramref name="keep"/> that a mount at <paramref name="directory"/>
    /// would cover (it is that directory or one of its ancestors), or null.</summary>
    public static string? Covers(string directory, IEnumerable<string> keep) =>
        keep.Select(Canonical).FirstOrDefault(k => k.StartsWith('/') && IsUnder(k, directory));
}
