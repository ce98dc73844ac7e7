namespace Everruns.Contracts;

/// <summary>
/// An Idempotency-Key's record: first <see cref="Pending"/> (a request holds the key, until <see cref="HeldUntil"/>),
/// then the request's response, stored in the transaction that did its writes; a retry with the same key (within
/// the retention of Idempotency-Keys (24 h), in the same org) gets it back and writes nothing.
/// </summary>
public sealed class IdempotentResponse
{
    /// <summary>org id / key.</summary>
    public string Id { get; set; } = "";
    public string RequestHash { get; set; } = "";
    public bool Pending { get; set; }
    public DateTimeOffset HeldUntil { get; set; }
    public int Status { get; set; }
    public string? Location { get; set; }
    public string Body { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Marten's optimistic-concurrency version: the response is stored only over the holder's own pending record.</summary>
    public Guid Version { get; set; }
}
