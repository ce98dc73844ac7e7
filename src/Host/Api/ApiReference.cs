using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace Everruns.Host.Api;

/// <summary>
/// This server's own OpenAPI 3.1 document at <c>/v1/openapi.json</c>, generated from its endpoints (Wolverine.Http's
/// and the minimal ones, through ASP.NET Core's API explorer) with the JSON options the API writes with (snake_case),
/// and an interactive reference over it at <c>/docs</c> (Scalar). Both are public: they describe the API, nothing of
/// a deployment's data. Every operation answers its errors in the one problem shape, declared once as
/// <c>Problem</c> and referenced by every operation's <c>4XX</c>/<c>5XX</c> responses.
/// </summary>
public static class ApiReference
{
    public const string DocumentPath = "/v1/openapi.json";
    public const string PagePath = "/docs";

    public static IServiceCollection AddApiReference(this IServiceCollection services) =>
        services.AddOpenApi("v1", options =>
        {
            options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            // Operational routes (health, metrics, the document itself) are not the API.
            options.ShouldInclude = description => description.RelativePath?.StartsWith("v1/", StringComparison.Ordinal) == true
                                                   && description.RelativePath != DocumentPath.TrimStart('/');
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Everruns API",
                    Version = BuildInfo.Version,
                    Description = "A durable AI-agent execution platform. Errors are application/problem+json with a stable `code`.",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes["token"] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    Description = "A personal access token (evr_pat_…); X-Org-Id chooses the org when the token's user has several.",
                };
                document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("token", document)] = [] }];
                document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
                document.Components.Schemas[ProblemSchema] = Problem();
                // The framework's own types, referenced by no response once the operations are cleaned up.
                document.Components.Schemas.Remove("IResult");
                document.Components.Schemas.Remove("ProblemDetails");
                return Task.CompletedTask;
            });
            options.AddSchemaTransformer((schema, context, _) =>
            {
                // Absent rather than null (the API writes no nulls, and reads a missing field as null): a field that may
                // be null is not required, whatever the C# record's constructor says.
                if (schema.Properties is { Count: > 0 } properties && schema.Required is { Count: > 0 } required)
                {
                    foreach (var (name, property) in properties)
                        if (MayBeNull(property)) required.Remove(name);
                    foreach (var property in context.JsonTypeInfo.Properties.Where(p => p.IsGetNullable))
                        required.Remove(property.Name);
                }

                // A map (the admin diagnostics) says so: any key, any value.
                if (context.JsonTypeInfo.Kind == System.Text.Json.Serialization.Metadata.JsonTypeInfoKind.Dictionary)
                    schema.AdditionalProperties ??= new OpenApiSchema();
                // A type with extension data (a page's alias of its data under the resource's name) has more keys.
                if (context.JsonTypeInfo.Properties.Any(p => p.IsExtensionData))
                {
                    schema.AdditionalPropertiesAllowed = true;
                    schema.AdditionalProperties = null;
                }

                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                operation.Responses ??= new OpenApiResponses();
                // An endpoint returning IResult says nothing of its body by its signature: its [ProducesResponseType]
                // attributes do. Wolverine's inferred defaults (200 "IResult", a bare 404, its validation's 400) go: the problem
                // ranges below say every refusal.
                foreach (var inferred in context.Description.SupportedResponseTypes.Where(r =>
                             (r.Type is not null && typeof(IResult).IsAssignableFrom(r.Type)) || r.StatusCode >= 400))
                    operation.Responses.Remove(inferred.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture));
                foreach (var range in new[] { "4XX", "5XX" })
                    operation.Responses[range] = new OpenApiResponse
                    {
                        Description = range == "4XX" ? "Refused: the problem says why (`code`)" : "Failed on the server's side",
                        Content = new Dictionary<string, OpenApiMediaType>
                        {
                            ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, context.Document) },
                        },
                    };
                return Task.CompletedTask;
            });
        });

    public const string ProblemSchema = "Problem";

    private static bool MayBeNull(IOpenApiSchema schema) =>
        schema.Type is { } type && type.HasFlag(JsonSchemaType.Null)
        || schema.OneOf?.Any(MayBeNull) == true || schema.AnyOf?.Any(MayBeNull) == true;

    private static OpenApiSchema Problem() => new()
    {
        Type = JsonSchemaType.Object,
        Description = "RFC 9457 problem details with a stable snake_case `code`.",
        Required = new HashSet<string> { "type", "title", "status", "detail", "code" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["type"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
            ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "What went wrong, for a person; never a .NET type name" },
            ["code"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Stable, for a program to switch on (`invalid_json`, `session_not_found`, ...)" },
            ["path"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The JSON path of the offending field (`invalid_json`, `unknown_field`)" },
            ["retry_after_seconds"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Description = "When to retry (429)" },
        },
    };

    public static WebApplication MapApiReference(this WebApplication app)
    {
        app.MapOpenApi(DocumentPath).AllowAnonymous().ExcludeFromDescription();
        app.MapScalarApiReference(PagePath, scalar => scalar
                .WithTitle("Everruns API")
                .WithOpenApiRoutePattern(DocumentPath))
            .AllowAnonymous().ExcludeFromDescription();
        return app;
    }
}
