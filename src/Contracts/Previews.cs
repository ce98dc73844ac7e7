namespace Everruns.Contracts;

/// <summary>The short form of a text shown in listings and events (session previews, answer previews).</summary>
public static class Previews
{
    public const int Length = 200;

    public static string Of(string text) => text.Length <= Length ? text : text[..Length] + "…";
}
