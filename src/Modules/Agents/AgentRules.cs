using System.Text.RegularExpressions;
using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Mvc;

namespace Everruns.Modules.Agents;

/// <summary>What makes agent input valid; each rule answers with the problem to return, or null.</summary>
public static partial class AgentRules
{
    public const int MaxNameLength = 64;

    [GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial Regex Slug();

    public static ProblemDetails? Name(string? name)
    {
        if (string.IsNullOrEmpty(name))
            return Problems.BadRequest("invalid_name", "name is required");
        if (name.Length > MaxNameLength || !Slug().IsMatch(name))
            return Problems.BadRequest("invalid_name",
                $"name must be lowercase letters, digits and single hyphens between them (like 'customer-support'), at most {MaxNameLength} characters");
        return null;
    }

    public static ProblemDetails? Id(string? id) =>
        id is not null && !Ids.IsValid(id, Ids.Agent)
            ? Problems.BadRequest("invalid_agent_id", $"'{id}' is not an agent id (agent_<32 hex>)")
            : null;

}
