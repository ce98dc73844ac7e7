using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Marten.Schema;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Everruns.Modules.Workspaces;

/// <summary>Workspaces and their files: the durable working area of sessions, shared by every instance.</summary>
public sealed class WorkspacesModule : IEverrunsModule
{
    public string Name => "workspaces";

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(new WorkspaceQuotas(
            (long)Settings.Positive(configuration, "WORKSPACE_FILE_SINGLE_MAX_BYTES", 10 * 1024 * 1024),
            (long)Settings.Positive(configuration, "WORKSPACE_FILE_MAX_BYTES", 100 * 1024 * 1024)));
        services.AddSingleton<FileStore>();
        services.AddSingleton<IWorkspaceFiles>(sp => sp.GetRequiredService<FileStore>());
        services.AddSingleton<IWorkspaceDirectory, WorkspaceDirectory>();
        services.ConfigureMarten(marten =>
        {
            // Names are unique per org (two creates racing: one gets 409).
            marten.Schema.For<Workspace>().UniqueIndex(UniqueIndexType.Computed, "uq_workspace_org_name", Marten.Schema.Indexing.Unique.TenancyScope.PerTenant, x => x.Name);
            marten.Schema.For<Memory>().UniqueIndex(UniqueIndexType.Computed, "uq_memory_org_name", Marten.Schema.Indexing.Unique.TenancyScope.PerTenant, x => x.Name);
            // The files: metadata beside the content, which listings never read.
            var files = new Weasel.Postgresql.Tables.Table("everruns.workspace_files");
            files.AddColumn("tenant_id", "text").AsPrimaryKey();
            files.AddColumn("workspace_id", "text").AsPrimaryKey();
            files.AddColumn("path", "text").AsPrimaryKey();
            files.AddColumn("id", "uuid").NotNull();
            files.AddColumn("is_directory", "boolean").NotNull();
            files.AddColumn("is_readonly", "boolean").NotNull();
            files.AddColumn("size_bytes", "bigint").NotNull();
            files.AddColumn("content_hash", "text");
            files.AddColumn("content", "bytea");
            files.AddColumn("created_at", "timestamptz").NotNull();
            files.AddColumn("updated_at", "timestamptz").NotNull();
            marten.Storage.ExtendedSchemaObjects.Add(files);
        });
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints) => FsEndpoints.Map(endpoints);
}
