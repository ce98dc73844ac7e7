using Everruns.Contracts;
using Microsoft.AspNetCore.Mvc;

namespace Everruns.Infrastructure;

/// <summary>Input rules agents and sessions share; each answers with the problem to return, or null.</summary>
public static class InputRules
{
    public static ProblemDetails? Capabilities(IEnumerable<CapabilityRef?>? capabilities)
    {
        foreach (var capability in capabilities ?? [])
        {
            if (capability is null || string.IsNullOrEmpty(capability.Ref))
                return Problems.BadRequest("invalid_capability", "each capability needs a ref");
            if (!BuiltInCapabilities.IsKnown(capability.Ref))
                return Problems.BadRequest("unknown_capability", $"unknown capability '{capability.Ref}'");
        }

        return null;
    }

    public static ProblemDetails? Harness(string? harnessId, string? harnessName)
    {
        if (harnessId is not null && harnessId != BuiltInHarness.Id)
            return Problems.BadRequest("unknown_harness", $"unknown harness '{harnessId}'");
        if (harnessName is not null && harnessName != BuiltInHarness.Name)
            return Problems.BadRequest("unknown_harness", $"unknown harness '{harnessName}'");
        return null;
    }

    public static ProblemDetails? MaxIterations(int? maxIterations) =>
        maxIterations is < 1 or > 1000
            ? Problems.BadRequest("invalid_max_iterations", "max_iterations must be from 1 to 1000")
            : null;

    public static ProblemDetails? Tags(IEnumerable<string?>? tags) =>
        tags?.Any(t => string.IsNullOrWhiteSpace(t) || t.Length > 64) == true
            ? Problems.BadRequest("invalid_tags", "tags must be non-empty strings of at most 64 characters")
            : null;

    public static ProblemDetails? SessionId(string id) =>
        Ids.IsValid(id, Ids.Session) ? null : Problems.BadRequest("invalid_session_id", $"'{id}' is not a session id (session_<32 hex>)");

    /// <summary>
    /// For modules other than Sessions: the session must be a well-formed id of a live session in the caller's org
    /// (asked of Sessions); otherwise the 400 or 404 to answer with.
    /// </summary>
    public static async Task<ProblemDetails?> ExistingSession(ISessionDirectory sessions, string orgId, string id, CancellationToken ct = default) =>
        (await LiveSession(sessions, orgId, id, ct)).Problem;

    /// <summary>As <see cref="ExistingSession"/>, with what Sessions answered when the session is there.</summary>
    public static async Task<(ProblemDetails? Problem, SessionFound? Found)> LiveSession(ISessionDirectory sessions, string orgId,
        string id, CancellationToken ct = default)
    {
        if (SessionId(id) is { } invalid) return (invalid, null);
        var found = await sessions.FindAsync(orgId, id, ct);
        return found.Session is null ? (Problems.NotFound("session_not_found", $"session {id} not found"), null) : (null, found);
    }

    /// <summary>A model named in a request must be one this server runs (asked of Execution): 404 otherwise.</summary>
    public static ProblemDetails? Model(IModelDirectory models, string? modelId) =>
        modelId is not null && models.Find(modelId) is null
            ? Problems.NotFound("model_not_found", $"model '{modelId}' is not available on this server (GET /v1/models lists them)")
            : null;

    public static ProblemDetails? First(params ProblemDetails?[] problems) => problems.FirstOrDefault(p => p is not null);
}
