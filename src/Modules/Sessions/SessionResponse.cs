using Everruns.Contracts;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;

namespace Everruns.Modules.Sessions;

/// <summary>The Session resource as the public API shows it.</summary>
public sealed record SessionResponse(
    string Id,
    string OrganizationId,
    string WorkspaceId,
    string OwnerPrincipalId,
    string? AgentId,
    string? AgentVersionId,
    string HarnessId,
    string? Title,
    IReadOnlyList<string> Tags,
    string? ModelId,
    string? SystemPrompt,
    int? MaxIterations,
    IReadOnlyList<CapabilityRef> Capabilities,
    IReadOnlyList<ClientToolDefinition> Tools,
    bool? ParallelToolCalls,
    string? Locale,
    string Status,
    string? Preview,
    string? OutputPreview,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    TokenUsage? Usage,
    string SelfUrl,
    string ViewUrl,
    string UiLink)
{
    /// <summary>Whether the requesting user pinned the session.</summary>
    public bool? IsPinned { get; init; }

    /// <summary>The session this one was forked from, and the last of its events the fork copied.</summary>
    public string? ForkedFromSessionId { get; init; }

    public long? ForkedFromSequence { get; init; }

    /// <summary>The session with its activity, as Execution reports it (<paramref name="activity"/>: null before its first message).</summary>
    public static SessionResponse From(Session session, SessionActivity? activity, HttpRequest request)
    {
        var view = UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, $"/sessions/{session.Id}");
        return new(
            session.Id, session.OrgId, session.WorkspaceId ?? Tenancy.DefaultWorkspaceId, Ids.PrincipalOf(session.OwnerId), session.AgentId, session.AgentVersionId,
            session.HarnessId, session.Title, session.Tags, session.ModelId, session.SystemPrompt, session.MaxIterations,
            session.Capabilities, session.Tools, session.ParallelToolCalls, session.Locale,
            activity?.Status ?? SessionStatuses.Started,
            activity?.Preview,
            activity?.OutputPreview,
            session.CreatedAt,
            activity is not null && activity.At > session.UpdatedAt ? activity.At : session.UpdatedAt,
            activity?.StartedAt,
            activity?.FinishedAt,
            activity?.Usage,
            UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, $"/v1/sessions/{session.Id}"), view, view)
        {
            IsPinned = false, // until looked up (WithActivity, the list): a new session is nobody's pin yet
            ForkedFromSessionId = session.ForkedFromSessionId,
            ForkedFromSequence = session.ForkedFromSequence,
        };
    }

    /// <summary>The session with its activity, and (with <paramref name="pins"/>) whether the requesting user pinned it.</summary>
    public static async Task<SessionResponse> WithActivity(Session session, ISessionActivities activities, HttpRequest request,
        Marten.IQuerySession? pins = null)
    {
        var response = From(session, (await activities.OfAsync(session.OrgId, [session.Id], request.HttpContext.RequestAborted)).GetValueOrDefault(session.Id), request);
        if (pins is null) return response;
        var pinned = await Pins.OfAsync(pins, Infrastructure.CallerExtensions.Caller(request).UserId, [session.Id], request.HttpContext.RequestAborted);
        return response with { IsPinned = pinned.Contains(session.Id) };
    }
}
