using Everruns.Contracts;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;

namespace Everruns.Modules.Sessions;

/// <summary>The Session resource as the public API shows it.</summary>
public sealed record SessionResponse(
    string Id,
    string OrganizationId,
    string WorkspaceId,
    string? OwnerPrincipalId,
    string? AgentId,
    string HarnessId,
    string? Title,
    IReadOnlyList<string> Tags,
    string? ModelId,
    string? SystemPrompt,
    int? MaxIterations,
    IReadOnlyList<CapabilityRef> Capabilities,
    string? Locale,
    string Status,
    string? Preview,
    string? OutputPreview,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string SelfUrl,
    string ViewUrl,
    string UiLink)
{
    /// <summary>
    /// The session with its activity: what Execution reports (<paramref name="activity"/>) when it is newer than what
    /// the document holds from an earlier build's status changes; the first input stays the preview.
    /// </summary>
    public static SessionResponse From(Session session, SessionActivity? activity, HttpRequest request)
    {
        var view = UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, $"/sessions/{session.Id}");
        var fresh = activity is not null && (session.StatusAt is null || activity.At >= session.StatusAt) ? activity : null;
        return new(
            session.Id, session.OrgId, Tenancy.DefaultWorkspaceId, session.OwnerId, session.AgentId,
            session.HarnessId, session.Title, session.Tags, session.ModelId, session.SystemPrompt, session.MaxIterations,
            session.Capabilities, session.Locale,
            fresh?.Status ?? session.Status,
            session.Preview ?? fresh?.Preview,
            fresh?.OutputPreview ?? session.OutputPreview,
            session.CreatedAt,
            fresh is not null && fresh.At > session.UpdatedAt ? fresh.At : session.UpdatedAt,
            session.StartedAt ?? fresh?.StartedAt,
            fresh is not null ? fresh.FinishedAt : session.FinishedAt,
            UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, $"/v1/sessions/{session.Id}"), view, view);
    }

    /// <summary>What Execution reports the sessions are doing (one question for a page of them).</summary>
    public static async Task<IReadOnlyDictionary<string, SessionActivity>> ActivityOf(Wolverine.IMessageBus bus,
        IReadOnlyList<string> sessionIds, CancellationToken ct = default) =>
        sessionIds.Count == 0
            ? new Dictionary<string, SessionActivity>()
            : (await bus.InvokeAsync<SessionActivities>(new GetSessionActivity(sessionIds), ct)).Sessions;

    public static async Task<SessionResponse> WithActivity(Session session, Wolverine.IMessageBus bus, HttpRequest request) =>
        From(session, (await ActivityOf(bus, [session.Id], request.HttpContext.RequestAborted)).GetValueOrDefault(session.Id), request);
}
