using System.Security.Cryptography;

namespace Everruns.Contracts;

/// <summary>Public ids: a type prefix, an underscore and 32 lowercase hex digits (agent_..., session_..., event_...).</summary>
public static class Ids
{
    public const string Agent = "agent";
    public const string AgentVersion = "agentver";
    public const string Session = "session";
    public const string Event = "event";
    public const string Message = "message";
    public const string Harness = "harness";
    public const string Turn = "turn";
    public const string Org = "org";
    public const string User = "user";
    public const string Provider = "provider";
    public const string Model = "model";
    public const string Principal = "principal";
    public const string Workspace = "wsp";
    public const string Memory = "mem";
    public const string Budget = "bdgt";

    /// <summary>The principal a user acts as (<c>principal_</c> and the user id's 32 hex digits): what owns their sessions.</summary>
    public static string PrincipalOf(string userId) =>
        IsValid(userId, User) ? $"{Principal}_{userId[(User.Length + 1)..]}" : userId;

    public static string New(string prefix) =>
        $"{prefix}_{Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant()}";

    public static bool IsValid(string? id, string prefix)
    {
        if (id is null || id.Length != prefix.Length + 33 || !id.StartsWith(prefix, StringComparison.Ordinal) || id[prefix.Length] != '_')
            return false;
        for (var i = prefix.Length + 1; i < id.Length; i++)
        {
            var c = id[i];
            if (!(c is >= '0' and <= '9' or >= 'a' and <= 'f')) return false;
        }

        return true;
    }
}
