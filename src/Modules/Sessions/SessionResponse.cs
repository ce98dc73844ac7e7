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
    public static SessionResponse From(Session session, HttpRequest request)
    {
        var view = UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, $"/sessions/{session.Id}");
        return new(
            session.Id, session.OrgId, Tenancy.DefaultWorkspaceId, session.OwnerId, session.AgentId,
            session.HarnessId, session.Title, session.Tags, session.ModelId, session.SystemPrompt, session.MaxIterations,
            session.Capabilities, session.Locale, session.Status, session.Preview, session.OutputPreview,
            session.CreatedAt, session.UpdatedAt, session.StartedAt, session.FinishedAt,
            UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, $"/v1/sessions/{session.Id}"), view, view);
    }
}
