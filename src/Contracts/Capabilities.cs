using System.Text.Json.Nodes;

namespace Everruns.Contracts;

/// <summary>A capability enabled on an agent or session, with its per-use configuration.</summary>
public sealed record CapabilityRef(string Ref, JsonNode? Config = null);
