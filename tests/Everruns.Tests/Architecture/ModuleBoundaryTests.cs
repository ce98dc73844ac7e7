using System.Reflection;
using System.Xml.Linq;
using Everruns.Tests.Infrastructure;

namespace Everruns.Tests.Architecture;

/// <summary>The modular monolith's one rule: a module never references another module, in its project or its compiled code.</summary>
public sealed class ModuleBoundaryTests
{
    private static readonly string ModulesFolder = Path.Combine(PostgresServer.RepositoryRoot, "src", "Modules");

    private static IEnumerable<string> ModuleNames() => Directory.GetDirectories(ModulesFolder).Select(Path.GetFileName).OfType<string>();

    public static TheoryData<string> Modules() => [.. ModuleNames()];

    [Theory]
    [MemberData(nameof(Modules))]
    public void a_module_references_no_other_module(string module)
    {
        var project = XDocument.Load(Path.Combine(ModulesFolder, module, $"Everruns.Modules.{module}.csproj"));
        var projectReferences = project.Descendants("ProjectReference").Select(r => (string)r.Attribute("Include")!).ToList();
        projectReferences.ShouldNotContain(r => r.Contains("Modules", StringComparison.Ordinal) && !r.EndsWith($"{module}.csproj", StringComparison.Ordinal));

        var compiled = Assembly.Load($"Everruns.Modules.{module}").GetReferencedAssemblies().Select(a => a.Name!);
        compiled.Where(name => name.StartsWith("Everruns.Modules.", StringComparison.Ordinal)).ShouldBeEmpty();
    }

    /// <summary>Contracts are what modules exchange: plain .NET types, so that a contract never drags a store or a web stack in.</summary>
    [Fact]
    public void contracts_reference_no_infrastructure()
    {
        var project = XDocument.Load(Path.Combine(PostgresServer.RepositoryRoot, "src", "Contracts", "Everruns.Contracts.csproj"));
        project.Descendants().Where(e => e.Name.LocalName is "PackageReference" or "ProjectReference" or "FrameworkReference")
            .Select(e => (string)e.Attribute("Include")!).ShouldBeEmpty();

        string[] infrastructure = ["Marten", "Wolverine", "Npgsql", "Weasel", "JasperFx", "Microsoft.AspNetCore", "Everruns."];
        var compiled = typeof(Everruns.Contracts.ISessionEventData).Assembly.GetReferencedAssemblies().Select(a => a.Name!);
        compiled.Where(name => infrastructure.Any(name.StartsWith)).ShouldBeEmpty();
    }

    [Fact]
    public void every_module_folder_is_a_module_the_host_composes() =>
        ModuleNames().Order().ShouldBe(
            Everruns.Host.Modules.All.Select(m => m.Assembly.GetName().Name!["Everruns.Modules.".Length..]).Order());
}
