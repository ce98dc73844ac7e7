using Everruns.Contracts;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;

namespace Everruns.Modules.Harnesses;

/// <summary>The Harness resource as the public API shows it (WithUrls + ResourceWithCounts).</summary>
public sealed record HarnessResponse(
    string Id,
    string Name,
    string? DisplayName,
    string? Description,
    string? SystemPrompt,
    string? DefaultModelId,
    string? ParentHarnessId,
    IReadOnlyList<CapabilityRef> Capabilities,
    IReadOnlyList<InitialFile> InitialFiles,
    IReadOnlyList<string> Tags,
    string Status,
    bool IsBuiltIn,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? ArchivedAt,
    long SessionCount,
    long AppCount,
    string SelfUrl,
    string ViewUrl,
    string UiLink)
{
    public static HarnessResponse From(Harness harness, long sessionCount, HttpRequest request)
    {
        var builtIn = harness.Id == BuiltInHarness.Id;
        var self = UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, $"/v1/harnesses/{harness.Id}");
        var view = UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, $"/harnesses/{harness.Id}");
        return new HarnessResponse(harness.Id, harness.Name, harness.DisplayName, harness.Description, harness.SystemPrompt,
            harness.DefaultModelId, builtIn ? null : BuiltInHarness.Id, harness.Capabilities, harness.InitialFiles, harness.Tags,
            harness.Status, builtIn, harness.CreatedAt, harness.UpdatedAt, harness.ArchivedAt, sessionCount, 0, self, view, view);
    }
}
