using Everruns.Contracts;
using Everruns.Infrastructure;
using Microsoft.AspNetCore.Mvc;

namespace Everruns.Modules.Agents;

/// <summary>What makes agent input valid; each rule answers with the problem to return, or null.</summary>
public static class AgentRules
{
    public const int MaxNameLength = Slugs.MaxLength;

    public static ProblemDetails? Name(string? name) => Slugs.Check(name);

    public static ProblemDetails? Id(string? id) =>
        id is not null && !Ids.IsValid(id, Ids.Agent)
            ? Problems.BadRequest("invalid_agent_id", $"'{id}' is not an agent id (agent_<32 hex>)")
            : null;

}
