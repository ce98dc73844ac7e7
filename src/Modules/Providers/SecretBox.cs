using Everruns.Infrastructure;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;

namespace Everruns.Modules.Providers;

/// <summary>
/// AES-256-GCM for stored credentials under SECRETS_ENCRYPTION_KEY (64 hex digits, base64 of 32 bytes, or any
/// passphrase of 32+ characters, which is hashed with SHA-256). Sealed values read <c>v1.&lt;key id&gt;.&lt;base64 nonce|ciphertext|tag&gt;</c>;
/// the key id picks SECRETS_ENCRYPTION_KEY or SECRETS_ENCRYPTION_KEY_PREVIOUS to open them, and the associated data
/// binds each value to its row, so a value copied onto another row does not open.
/// </summary>
public sealed class SecretBox
{
    private readonly (string Id, byte[] Key)? _current;
    private readonly (string Id, byte[] Key)? _previous;

    public SecretBox(IConfiguration configuration)
    {
        _current = Parse(configuration, "SECRETS_ENCRYPTION_KEY");
        _previous = Parse(configuration, "SECRETS_ENCRYPTION_KEY_PREVIOUS");
        if (_current is null && _previous is not null)
            throw new SettingException("SECRETS_ENCRYPTION_KEY_PREVIOUS is set without SECRETS_ENCRYPTION_KEY");
    }

    public bool Enabled => _current is not null;
    public string? CurrentKeyId => _current?.Id;

    public string Seal(string plaintext, string binding)
    {
        var (id, key) = _current ?? throw new InvalidOperationException("SECRETS_ENCRYPTION_KEY is not set");
        var nonce = RandomNumberGenerator.GetBytes(12);
        var data = Encoding.UTF8.GetBytes(plaintext);
        var sealedBytes = new byte[12 + data.Length + 16];
        using var aes = new AesGcm(key, 16);
        aes.Encrypt(nonce, data, sealedBytes.AsSpan(12, data.Length), sealedBytes.AsSpan(12 + data.Length), Encoding.UTF8.GetBytes(binding));
        nonce.CopyTo(sealedBytes, 0);
        return $"v1.{id}.{Convert.ToBase64String(sealedBytes)}";
    }

    /// <summary>The key id a sealed value was made with.</summary>
    public static string KeyIdOf(string sealedValue) => sealedValue.Split('.')[1];

    public string Open(string sealedValue, string binding)
    {
        var parts = sealedValue.Split('.');
        if (parts is not ["v1", var id, var body]) throw new CryptographicException("not a sealed value");
        var key = _current is { } c && c.Id == id ? c.Key
            : _previous is { } p && p.Id == id ? p.Key
            : throw new CryptographicException($"sealed under key {id}, which is neither SECRETS_ENCRYPTION_KEY nor SECRETS_ENCRYPTION_KEY_PREVIOUS");
        var bytes = Convert.FromBase64String(body);
        var plain = new byte[bytes.Length - 28];
        using var aes = new AesGcm(key, 16);
        aes.Decrypt(bytes.AsSpan(0, 12), bytes.AsSpan(12, plain.Length), bytes.AsSpan(12 + plain.Length), plain, Encoding.UTF8.GetBytes(binding));
        return Encoding.UTF8.GetString(plain);
    }

    private static (string, byte[])? Parse(IConfiguration configuration, string name)
    {
        var raw = configuration[name]?.Trim();
        if (string.IsNullOrEmpty(raw)) return null;
        byte[]? key = null;
        if (raw.Length == 64 && raw.All(Uri.IsHexDigit)) key = Convert.FromHexString(raw);
        else
        {
            var buffer = new byte[48];
            if (Convert.TryFromBase64String(raw, buffer, out var written) && written == 32) key = buffer[..32];
        }

        if (key is null)
        {
            if (raw.Length < 32)
                throw new SettingException($"{name} must be 64 hex digits, base64 of 32 bytes, or a passphrase of 32+ characters");
            key = SHA256.HashData(Encoding.UTF8.GetBytes(raw));
        }

        return (Convert.ToHexString(SHA256.HashData(key))[..8].ToLowerInvariant(), key);
    }
}
