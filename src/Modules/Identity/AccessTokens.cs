using System.Security.Cryptography;
using System.Text;

namespace Everruns.Modules.Identity;

/// <summary>
/// Personal access tokens: <c>evr_pat_</c> and 64 hex digits (32 random bytes). The server keeps only
/// HMAC-SHA256(API_KEY_SECRET, token); each row also names the secret it was hashed under (a fingerprint, never the
/// secret), so that a rotation can tell which rows still depend on API_KEY_SECRET_PREVIOUS.
/// </summary>
public static class AccessTokens
{
    public const string Prefix = "evr_pat_";
    public const int Length = 72;

    public static string New() => Prefix + Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();

    public static bool IsWellFormed(string? token)
    {
        if (token is null || token.Length != Length || !token.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        for (var i = Prefix.Length; i < token.Length; i++)
            if (token[i] is not (>= '0' and <= '9' or >= 'a' and <= 'f')) return false;
        return true;
    }

    public static string Hash(string secret, string token) =>
        Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(token))).ToLowerInvariant();

    /// <summary>Names a secret without revealing it.</summary>
    public static string SecretId(string secret) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes("everruns/api-key-secret/" + secret)))[..12].ToLowerInvariant();

    /// <summary>What lists show of a token: <c>evr_pat_ab12cd34...</c>.</summary>
    public static string Display(string token) => token[..(Prefix.Length + 8)] + "...";

    /// <summary>The token of an Authorization header: <c>&lt;token&gt;</c> (as the Everruns SDKs send it) or <c>Bearer &lt;token&gt;</c>.</summary>
    public static string? FromHeader(string? header)
    {
        if (string.IsNullOrWhiteSpace(header)) return null;
        header = header.Trim();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : header;
    }
}
