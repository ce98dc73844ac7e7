using System.Text;

namespace Everruns.Infrastructure;

/// <summary>Text or base64, by content: text when the first 8 KB hold no NUL and the whole is valid UTF-8.</summary>
public static class WorkspaceText
{
    private static readonly UTF8Encoding Strict = new(false, true);

    public static bool IsText(byte[] content)
    {
        if (content.AsSpan(0, Math.Min(content.Length, 8192)).Contains((byte)0)) return false;
        try
        {
            Strict.GetCharCount(content);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    public static (string Content, string Encoding) Encode(byte[] content) =>
        IsText(content) ? (Encoding.UTF8.GetString(content), "text") : (Convert.ToBase64String(content), "base64");

    /// <summary>The bytes of content given as <paramref name="encoding"/> (<c>text</c>, the default, or <c>base64</c>), or null when invalid.</summary>
    public static byte[]? Decode(string content, string? encoding)
    {
        if (encoding is null or "text") return Encoding.UTF8.GetBytes(content);
        if (encoding != "base64") return null;
        try
        {
            return Convert.FromBase64String(content);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
