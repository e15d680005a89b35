namespace KvmOcf.Core;

/// <summary>Version of this build of KvmOcf.</summary>
public static class BuildInfo
{
    public static string Version =>
        typeof(BuildInfo).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "0.0.0";
}
