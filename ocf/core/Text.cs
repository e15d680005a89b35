using System.Text;

namespace KvmOcf.Core;

/// <summary>Turns arbitrary text (exception messages, tool output, user values) into something safe
/// to put on one log line or in an exit reason.</summary>
public static class OneLine
{
    /// <summary>Control characters become spaces, runs of white space collapse, and the result is
    /// cut to <paramref name="maxChars"/> with an ellipsis.</summary>
    public static string Of(string? text, int maxChars = 512)
    {
        if (string.IsNullOrEmpty(text)) return "";
        var sb = new StringBuilder(Math.Min(text.Length, maxChars + 1));
        bool space = false;
        foreach (var c in text)
        {
            if (char.IsControl(c) || char.IsWhiteSpace(c)) { space = sb.Length > 0; continue; }
            if (space) { sb.Append(' '); space = false; }
            sb.Append(c);
            if (sb.Length > maxChars) break;
        }
        if (sb.Length > maxChars)
        {
            sb.Length = maxChars - 1;
            if (char.IsHighSurrogate(sb[^1])) sb.Length--;
            sb.Append('…');
        }
        return sb.ToString();
    }

    /// <summary>Cuts <paramref name="text"/> to at most <paramref name="maxBytes"/> bytes of UTF-8
    /// without splitting a character.</summary>
    public static string FitBytes(string text, int maxBytes)
    {
        if (Encoding.UTF8.GetByteCount(text) <= maxBytes) return text;
        var ellipsisBytes = Encoding.UTF8.GetByteCount("…");
        int used = 0, i = 0;
        while (i < text.Length)
        {
            int width = char.IsSurrogatePair(text, i) ? 2 : 1;
            int bytes = Encoding.UTF8.GetByteCount(text.AsSpan(i, width));
            if (used + bytes + ellipsisBytes > maxBytes) break;
            used += bytes; i += width;
        }
        return string.Concat(text.AsSpan(0, i), "…");
    }

    /// <summary>A user-supplied value quoted for an error message: one line, short.</summary>
    public static string Quote(string value, int maxChars = 40) => "'" + Of(value, maxChars) + "'";
}
