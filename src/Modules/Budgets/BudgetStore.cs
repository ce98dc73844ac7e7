using System.Data;
using System.Globalization;
using System.Text.Json.Nodes;
using Everruns.Contracts;
using Npgsql;
using NpgsqlTypes;

namespace Everruns.Modules.Budgets;

/// <summary>
/// A budget as stored: <see cref="Balance"/> is the limit less what was spent, plus top-ups; <see cref="Reserved"/> what
/// running model calls may still cost (held out of the balance until each is charged).
/// </summary>
public sealed record Budget(
    string Id, string OrgId, string SubjectType, string SubjectId, string Currency, decimal Limit, decimal? SoftLimit, decimal Balance,
    string Status, JsonNode? Metadata, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, decimal Reserved = 0)
{
    public decimal Spent => Limit - Balance;
}

public static class BudgetStatus
{
    public const string Active = "active";
    public const string Paused = "paused";
    public const string Exhausted = "exhausted";
    public const string Disabled = "disabled";
}

/// <summary>
/// Budgets, their ledger and the reservations of running calls (<c>everruns.budgets</c>, <c>budget_ledger</c>,
/// <c>budget_reservations</c>). Every change of a balance takes the budget's row lock (<c>for update</c>) and writes its
/// ledger entry or reservation in the same transaction, so balances are exact on any number of instances.
/// </summary>
public sealed class BudgetStore(NpgsqlDataSource dataSource) : IBudgetGate
{
    public const string Currencies = "usd, tokens, credits";

    /// <summary>Warn when the balance falls to this share of the limit.</summary>
    private const decimal WarnShare = 0.2m;

    private const string Columns = "id, org_id, subject_type, subject_id, currency, limit_amount, soft_limit, balance, status, metadata, created_at, updated_at, reserved";

    /// <summary>How long a call waits for other running calls to be charged when they hold what is left of a budget.</summary>
    private static readonly TimeSpan ReservationWait = TimeSpan.FromSeconds(30);

    // ---- the API's reads and writes ----

    public async Task<Budget> CreateAsync(string orgId, string subjectType, string subjectId, string currency, decimal limit, decimal? softLimit,
        JsonNode? metadata, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var budget = new Budget(Ids.New(Ids.Budget), orgId, subjectType, subjectId, currency, limit, softLimit, limit, BudgetStatus.Active, metadata, now, now);
        await using var cmd = dataSource.CreateCommand("""
            insert into everruns.budgets (id, org_id, subject_type, subject_id, currency, limit_amount, soft_limit, balance, status, metadata, created_at, updated_at)
            values (@id, @org, @type, @subject, @currency, @limit, @soft, @limit, @status, @metadata, @now, @now)
            """);
        cmd.Parameters.AddWithValue("id", budget.Id);
        cmd.Parameters.AddWithValue("org", orgId);
        cmd.Parameters.AddWithValue("type", subjectType);
        cmd.Parameters.AddWithValue("subject", subjectId);
        cmd.Parameters.AddWithValue("currency", currency);
        cmd.Parameters.AddWithValue("limit", limit);
        cmd.Parameters.AddWithValue("soft", (object?)softLimit ?? DBNull.Value);
        cmd.Parameters.AddWithValue("status", BudgetStatus.Active);
        cmd.Parameters.Add(new NpgsqlParameter("metadata", NpgsqlDbType.Jsonb) { Value = (object?)metadata?.ToJsonString() ?? DBNull.Value });
        cmd.Parameters.AddWithValue("now", now);
        await cmd.ExecuteNonQueryAsync(ct);
        return budget;
    }

    public async Task<IReadOnlyList<Budget>> ListAsync(string orgId, string? subjectType, string? subjectId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"""
            select {Columns} from everruns.budgets
            where org_id = @org and status <> 'disabled' and (@type::text is null or subject_type = @type) and (@subject::text is null or subject_id = @subject)
            order by created_at, id
            """);
        cmd.Parameters.AddWithValue("org", orgId);
        cmd.Parameters.AddWithValue("type", NpgsqlDbType.Text, (object?)subjectType ?? DBNull.Value);
        cmd.Parameters.AddWithValue("subject", NpgsqlDbType.Text, (object?)subjectId ?? DBNull.Value);
        return await ReadAsync(cmd, ct);
    }

    public async Task<Budget?> GetAsync(string orgId, string id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"select {Columns} from everruns.budgets where org_id = @org and id = @id and status <> 'disabled'");
        cmd.Parameters.AddWithValue("org", orgId);
        cmd.Parameters.AddWithValue("id", id);
        return (await ReadAsync(cmd, ct)).FirstOrDefault();
    }

    /// <summary>
    /// Changes a budget under its lock. A new limit moves the balance by the same amount (what was spent stays spent); a
    /// budget whose balance is positive again after the change, or set <c>active</c>, is active again. Null: not found.
    /// </summary>
    public async Task<Budget?> UpdateAsync(string orgId, string id, decimal? limit, bool softLimitGiven, decimal? softLimit, string? status,
        JsonNode? metadata, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var budget = (await LockAsync(connection, tx, "org_id = @org and id = @id and status <> 'disabled'", ct, ("org", orgId), ("id", id))).FirstOrDefault();
        if (budget is null) return null;
        var balance = limit is { } l ? budget.Balance + (l - budget.Limit) : budget.Balance;
        var newStatus = status ?? budget.Status;
        if (status is null && budget.Status == BudgetStatus.Exhausted && balance > 0) newStatus = BudgetStatus.Active;
        if (status is null && budget.Status == BudgetStatus.Paused && softLimitGiven && (softLimit is null || budget.Limit - balance <= softLimit))
            newStatus = BudgetStatus.Active;
        var updated = budget with
        {
            Limit = limit ?? budget.Limit, SoftLimit = softLimitGiven ? softLimit : budget.SoftLimit, Balance = balance, Status = newStatus,
            Metadata = metadata ?? budget.Metadata, UpdatedAt = DateTimeOffset.UtcNow,
        };
        await SaveAsync(connection, tx, updated, ct);
        await tx.CommitAsync(ct);
        return updated;
    }

    /// <summary>Adds <paramref name="amount"/> to the balance (a negative ledger entry); a paused or exhausted budget with a positive balance is active again.</summary>
    public async Task<Budget?> TopUpAsync(string orgId, string id, decimal amount, string? description, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var budget = (await LockAsync(connection, tx, "org_id = @org and id = @id and status <> 'disabled'", ct, ("org", orgId), ("id", id))).FirstOrDefault();
        if (budget is null) return null;
        var balance = budget.Balance + amount;
        var updated = budget with
        {
            Balance = balance,
            Status = budget.Status is BudgetStatus.Paused or BudgetStatus.Exhausted && balance > 0 ? BudgetStatus.Active : budget.Status,
            UpdatedAt = DateTimeOffset.UtcNow,
        };
        await SaveAsync(connection, tx, updated, ct);
        await LedgerAsync(connection, tx, budget.Id, -amount, "manual", "manual", null, null, description ?? "top-up", ct);
        await tx.CommitAsync(ct);
        return updated;
    }

    public async Task<bool> DisableAsync(string orgId, string id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("update everruns.budgets set status = 'disabled', updated_at = now() where org_id = @org and id = @id and status <> 'disabled'");
        cmd.Parameters.AddWithValue("org", orgId);
        cmd.Parameters.AddWithValue("id", id);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public sealed record LedgerEntry(string Id, string BudgetId, double Amount, string MeterSource, string? RefType, string? RefId,
        string? SessionId, string? Description, DateTimeOffset CreatedAt);

    public async Task<IReadOnlyList<LedgerEntry>> LedgerAsync(string budgetId, int offset, int limit, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            select id, budget_id, amount, meter_source, ref_type, ref_id, session_id, description, created_at from everruns.budget_ledger
            where budget_id = @budget order by created_at desc, id desc offset @offset limit @limit
            """);
        cmd.Parameters.AddWithValue("budget", budgetId);
        cmd.Parameters.AddWithValue("offset", offset);
        cmd.Parameters.AddWithValue("limit", limit);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var entries = new List<LedgerEntry>();
        while (await reader.ReadAsync(ct))
            entries.Add(new LedgerEntry(reader.GetString(0), reader.GetString(1), (double)reader.GetDecimal(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7), reader.GetFieldValue<DateTimeOffset>(8)));
        return entries;
    }

    /// <summary>The budgets over a session: its own, its agent's, its org's.</summary>
    public async Task<IReadOnlyList<Budget>> OfSessionAsync(string orgId, string sessionId, string? agentId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"select {Columns} from everruns.budgets where {Applying} order by id");
        Scope(cmd.Parameters, orgId, sessionId, agentId);
        return await ReadAsync(cmd, ct);
    }

    /// <summary>Paused budgets over the session made active again; how many.</summary>
    public async Task<IReadOnlyList<Budget>> ResumeAsync(string orgId, string sessionId, string? agentId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"update everruns.budgets set status = 'active', updated_at = now() where {Applying} and status = 'paused' returning {Columns}");
        Scope(cmd.Parameters, orgId, sessionId, agentId);
        return await ReadAsync(cmd, ct);
    }

    /// <summary>What a model call under these budgets would be told now: the most restrictive of stop, pause, warn, continue.</summary>
    public static (string Action, Budget? Budget) Check(IEnumerable<Budget> budgets)
    {
        (string Action, Budget? Budget) worst = (BudgetReservation.Continue, null);
        foreach (var b in budgets)
        {
            var action = b.Status == BudgetStatus.Exhausted || b.Balance <= 0 ? BudgetReservation.Stop
                : b.Status == BudgetStatus.Paused ? BudgetReservation.Pause
                : b.Balance <= b.Limit * WarnShare ? "warn"
                : BudgetReservation.Continue;
            if (Rank(action) > Rank(worst.Action)) worst = (action, b);
        }

        return worst;

        static int Rank(string action) => action switch { BudgetReservation.Stop => 3, BudgetReservation.Pause => 2, "warn" => 1, _ => 0 };
    }

    // ---- the gate of model calls ----

    public async Task<BudgetReservation> ReserveAsync(BudgetCall call, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        // Most orgs have no budget: one read says so, without a transaction.
        await using (var any = new NpgsqlCommand($"select exists (select 1 from everruns.budgets where {Applying})", connection))
        {
            Scope(any.Parameters, call.OrgId, call.SessionId, call.AgentId);
            if (!(bool)(await any.ExecuteScalarAsync(ct))!) return new BudgetReservation(BudgetReservation.Continue);
        }

        var inputTokens = call.InputTokens();
        var deadline = DateTimeOffset.UtcNow + ReservationWait;
        while (true)
        {
            await using var tx = await connection.BeginTransactionAsync(ct);
            var budgets = await LockAsync(connection, tx, Applying, ct, ("org", call.OrgId), ("session", call.SessionId), ("agent", (object?)call.AgentId ?? DBNull.Value));
            await using (var before = new NpgsqlCommand("select min(max_output) from everruns.budget_reservations where call_key = @key", connection, tx))
            {
                before.Parameters.AddWithValue("key", call.CallKey);
                if (await before.ExecuteScalarAsync(ct) is int reservedOutput)
                {
                    await tx.CommitAsync(ct);
                    return new BudgetReservation(BudgetReservation.Continue, reservedOutput, Reserved: true); // this call ran before: it reserved then
                }
            }

            // Stopped or paused already: the first such budget says so.
            if (budgets.FirstOrDefault(b => b.Status == BudgetStatus.Exhausted || b.Balance <= 0) is { } spent)
                return await StopAsync(connection, tx, spent, $"Budget exhausted: {Amount(spent.Spent)} {spent.Currency} spent of the {Amount(spent.Limit)} {spent.Currency} limit.", ct);
            if (budgets.FirstOrDefault(b => b.Status == BudgetStatus.Paused) is { } paused)
            {
                await tx.CommitAsync(ct);
                return new BudgetReservation(BudgetReservation.Pause, Event: Event<BudgetPaused>(paused, PausedMessage(paused)),
                    Message: PausedMessage(paused), ErrorCode: "budget_paused");
            }

            // The most each budget can pay for: the prompt, then as many answer tokens as the rest of what it has free buys.
            var maxOutput = call.MaxOutputTokens;
            Budget? tooLittle = null;
            foreach (var b in budgets)
            {
                var (input, output, _) = Rates(b.Currency, call);
                if (output <= 0) continue;
                var affordable = Math.Floor((b.Balance - b.Reserved - inputTokens * input) / output);
                if (affordable < 1)
                {
                    tooLittle = b;
                    break;
                }

                maxOutput = (int)Math.Min(maxOutput, affordable);
            }

            if (tooLittle is { } b0)
            {
                // Other running calls hold what is left: once they are charged (what they used, not what they might have),
                // there may be enough again. Wait for them, the locks released, for a while.
                if (b0.Reserved > 0 && DateTimeOffset.UtcNow < deadline)
                {
                    await tx.RollbackAsync(ct);
                    await Task.Delay(TimeSpan.FromMilliseconds(100 + Random.Shared.Next(200)), ct);
                    continue;
                }

                return await StopAsync(connection, tx, b0,
                    $"Budget exhausted: the {Amount(b0.Balance)} {b0.Currency} left cannot pay for another model call.", ct, persist: b0.Reserved == 0);
            }

            foreach (var b in budgets)
            {
                var (input, output, _) = Rates(b.Currency, call);
                var amount = inputTokens * input + maxOutput * output;
                if (amount <= 0) continue;
                await SaveAsync(connection, tx, b with { Reserved = b.Reserved + amount, UpdatedAt = DateTimeOffset.UtcNow }, ct);
                await using var hold = new NpgsqlCommand(
                    "insert into everruns.budget_reservations (call_key, budget_id, amount, max_output, created_at) values (@key, @budget, @amount, @max, now())",
                    connection, tx);
                hold.Parameters.AddWithValue("max", maxOutput);
                hold.Parameters.AddWithValue("key", call.CallKey);
                hold.Parameters.AddWithValue("budget", b.Id);
                hold.Parameters.AddWithValue("amount", amount);
                await hold.ExecuteNonQueryAsync(ct);
            }

            await tx.CommitAsync(ct);
            return new BudgetReservation(BudgetReservation.Continue, maxOutput, Reserved: true);
        }
    }

    public async Task<IReadOnlyList<ISessionEventData>> SettleAsync(BudgetCall call, TokenUsage used, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var held = await ReleaseAsync(connection, tx, call.CallKey, ct); // once: a second settle finds nothing held
        if (held.Count == 0) return [];

        var events = new List<ISessionEventData>();
        var budgets = await LockAsync(connection, tx, "id = any(@ids)", ct, ("ids", held.Keys.ToArray()));
        foreach (var b in budgets)
        {
            var (input, output, cached) = Rates(b.Currency, call);
            var cost = used.InputTokens * input + used.OutputTokens * output + (used.CacheReadTokens ?? 0) * cached;
            var after = b.Balance - cost;
            var status = b.Status;
            var charged = b with { Balance = after };
            if (after <= 0 && status != BudgetStatus.Exhausted)
            {
                status = BudgetStatus.Exhausted;
                events.Add(Event<BudgetExhausted>(charged, $"Budget exhausted: {Amount(charged.Spent)} {b.Currency} spent of the {Amount(b.Limit)} {b.Currency} limit."));
            }
            else if (b.SoftLimit is { } soft && b.Spent <= soft && charged.Spent > soft && status == BudgetStatus.Active)
            {
                status = BudgetStatus.Paused;
                events.Add(Event<BudgetPaused>(charged, PausedMessage(charged)));
            }
            else if (b.Balance > b.Limit * WarnShare && after <= b.Limit * WarnShare && after > 0)
            {
                events.Add(Event<BudgetWarning>(charged, $"Budget running low: {Amount(after)} {b.Currency} of {Amount(b.Limit)} left."));
            }

            await SaveAsync(connection, tx, charged with { Status = status, Reserved = Math.Max(0, b.Reserved - held[b.Id]), UpdatedAt = DateTimeOffset.UtcNow }, ct);
            if (cost != 0)
                await LedgerAsync(connection, tx, b.Id, cost, "llm_tokens", "llm_generation", call.CallKey, call.SessionId,
                    $"model call: {used.InputTokens} prompt, {used.OutputTokens} answer, {used.CacheReadTokens ?? 0} cached tokens", ct);
        }

        await tx.CommitAsync(ct);
        return events;
    }

    // ---- helpers ----

    /// <summary>The budgets over a session: its own, its agent's, its org's (disabled ones aside).</summary>
    private const string Applying = """
        org_id = @org and status <> 'disabled' and (
          (subject_type = 'session' and subject_id = @session) or (subject_type = 'agent' and subject_id = @agent)
          or (subject_type = 'organization' and subject_id = @org))
        """;

    private static void Scope(NpgsqlParameterCollection parameters, string orgId, string sessionId, string? agentId)
    {
        parameters.AddWithValue("org", orgId);
        parameters.AddWithValue("session", sessionId);
        parameters.AddWithValue("agent", NpgsqlDbType.Text, (object?)agentId ?? DBNull.Value);
    }

    /// <summary>What one token costs in a currency: one token, a thousandth of a credit, or the model's price in dollars (zero when unknown).</summary>
    private static (decimal Input, decimal Output, decimal Cached) Rates(string currency, BudgetCall call) => currency switch
    {
        "tokens" => (1, 1, 1),
        "credits" => (0.001m, 0.001m, 0.001m),
        "usd" => (PerToken(call.InputPricePerMillion), PerToken(call.OutputPricePerMillion), PerToken(call.CacheReadPricePerMillion ?? call.InputPricePerMillion)),
        _ => (0, 0, 0),
    };

    private static decimal PerToken(double? perMillion) => perMillion is { } p ? (decimal)p / 1_000_000m : 0;

    private static string Amount(decimal value) => value.ToString("0.######", CultureInfo.InvariantCulture);

    private static string PausedMessage(Budget b) =>
        $"Budget paused: {Amount(b.Spent)} {b.Currency} spent passed the soft limit of {Amount(b.SoftLimit ?? 0)} {b.Currency}; resume the session to go on.";

    private static T Event<T>(Budget b, string message) where T : ISessionEventData =>
        (T)Activator.CreateInstance(typeof(T), b.Id, (double)b.Balance, (double)b.Limit, b.Currency, (double?)b.SoftLimit, message)!;

    private static async Task<BudgetReservation> StopAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Budget b, string message, CancellationToken ct,
        bool persist = true)
    {
        if (persist && b.Status != BudgetStatus.Exhausted)
            await SaveAsync(connection, tx, b with { Status = BudgetStatus.Exhausted, UpdatedAt = DateTimeOffset.UtcNow }, ct);
        await tx.CommitAsync(ct);
        return new BudgetReservation(BudgetReservation.Stop, Event: Event<BudgetExhausted>(b, message), Message: message, ErrorCode: "budget_exhausted");
    }

    private static async Task<List<Budget>> LockAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string where, CancellationToken ct,
        params (string Name, object Value)[] parameters)
    {
        await using var cmd = new NpgsqlCommand($"select {Columns} from everruns.budgets where {where} order by id for update", connection, tx);
        foreach (var (name, value) in parameters)
        {
            if (value is DBNull) cmd.Parameters.AddWithValue(name, NpgsqlDbType.Text, value);
            else cmd.Parameters.AddWithValue(name, value);
        }

        return await ReadAsync(cmd, ct);
    }

    /// <summary>What a call held of each budget, taken away: the call is being charged.</summary>
    private static async Task<Dictionary<string, decimal>> ReleaseAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string callKey,
        CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("delete from everruns.budget_reservations where call_key = @key returning budget_id, amount", connection, tx);
        cmd.Parameters.AddWithValue("key", callKey);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var amounts = new Dictionary<string, decimal>();
        while (await reader.ReadAsync(ct)) amounts[reader.GetString(0)] = reader.GetDecimal(1);
        return amounts;
    }

    private static async Task SaveAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Budget b, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            update everruns.budgets set limit_amount = @limit, soft_limit = @soft, balance = @balance, reserved = @reserved, status = @status,
              metadata = @metadata, updated_at = @updated where id = @id
            """, connection, tx);
        cmd.Parameters.AddWithValue("id", b.Id);
        cmd.Parameters.AddWithValue("limit", b.Limit);
        cmd.Parameters.AddWithValue("soft", NpgsqlDbType.Numeric, (object?)b.SoftLimit ?? DBNull.Value);
        cmd.Parameters.AddWithValue("balance", b.Balance);
        cmd.Parameters.AddWithValue("reserved", b.Reserved);
        cmd.Parameters.AddWithValue("status", b.Status);
        cmd.Parameters.Add(new NpgsqlParameter("metadata", NpgsqlDbType.Jsonb) { Value = (object?)b.Metadata?.ToJsonString() ?? DBNull.Value });
        cmd.Parameters.AddWithValue("updated", b.UpdatedAt);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task LedgerAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string budgetId, decimal amount, string meter,
        string? refType, string? refId, string? sessionId, string description, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            insert into everruns.budget_ledger (id, budget_id, amount, meter_source, ref_type, ref_id, session_id, description, created_at)
            values (@id, @budget, @amount, @meter, @refType, @ref, @session, @description, clock_timestamp())
            """, connection, tx);
        cmd.Parameters.AddWithValue("id", Ids.New("ledger"));
        cmd.Parameters.AddWithValue("budget", budgetId);
        cmd.Parameters.AddWithValue("amount", amount);
        cmd.Parameters.AddWithValue("meter", meter);
        cmd.Parameters.AddWithValue("refType", NpgsqlDbType.Text, (object?)refType ?? DBNull.Value);
        cmd.Parameters.AddWithValue("ref", NpgsqlDbType.Text, (object?)refId ?? DBNull.Value);
        cmd.Parameters.AddWithValue("session", NpgsqlDbType.Text, (object?)sessionId ?? DBNull.Value);
        cmd.Parameters.AddWithValue("description", description);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task<List<Budget>> ReadAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var budgets = new List<Budget>();
        while (await reader.ReadAsync(ct))
            budgets.Add(new Budget(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetDecimal(5), reader.IsDBNull(6) ? null : reader.GetDecimal(6), reader.GetDecimal(7), reader.GetString(8),
                reader.IsDBNull(9) ? null : JsonNode.Parse(reader.GetString(9)), reader.GetFieldValue<DateTimeOffset>(10), reader.GetFieldValue<DateTimeOffset>(11),
                reader.GetDecimal(12)));
        return budgets;
    }
}
