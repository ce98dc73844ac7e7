using Everruns.Contracts;
using Everruns.Infrastructure;
using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Weasel.Postgresql.Tables;

namespace Everruns.Modules.Budgets;

/// <summary>
/// Spending caps on sessions, agents and orgs (<c>/v1/budgets</c>), in tokens, credits or US dollars: each model call
/// reserves what it may cost under the budgets' row locks before it runs and is charged what it cost after
/// (<see cref="IBudgetGate"/>), so that instances sharing the database never overspend a budget between them.
/// </summary>
public sealed class BudgetsModule : IEverrunsModule
{
    public string Name => "budgets";

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<BudgetStore>();
        services.AddSingleton<IBudgetGate>(sp => sp.GetRequiredService<BudgetStore>());
        services.ConfigureMarten(marten =>
        {
            var budgets = new Table("everruns.budgets");
            budgets.AddColumn("id", "text").AsPrimaryKey();
            budgets.AddColumn("org_id", "text").NotNull();
            budgets.AddColumn("subject_type", "text").NotNull();
            budgets.AddColumn("subject_id", "text").NotNull();
            budgets.AddColumn("currency", "text").NotNull();
            budgets.AddColumn("limit_amount", "numeric").NotNull();
            budgets.AddColumn("soft_limit", "numeric");
            budgets.AddColumn("balance", "numeric").NotNull();
            budgets.AddColumn("reserved", "numeric").DefaultValueByExpression("0").NotNull();
            budgets.AddColumn("status", "text").NotNull();
            budgets.AddColumn("metadata", "jsonb");
            budgets.AddColumn("created_at", "timestamptz").NotNull();
            budgets.AddColumn("updated_at", "timestamptz").NotNull();
            budgets.Indexes.Add(new IndexDefinition("ix_budgets_subject") { Columns = ["org_id", "subject_type", "subject_id"] });
            marten.Storage.ExtendedSchemaObjects.Add(budgets);

            // Positive amounts are spending, negative ones credit (top-ups, and what a call's reservation gave back).
            var ledger = new Table("everruns.budget_ledger");
            ledger.AddColumn("id", "text").AsPrimaryKey();
            ledger.AddColumn("budget_id", "text").NotNull();
            ledger.AddColumn("amount", "numeric").NotNull();
            ledger.AddColumn("meter_source", "text").NotNull();
            ledger.AddColumn("ref_type", "text");
            ledger.AddColumn("ref_id", "text");
            ledger.AddColumn("session_id", "text");
            ledger.AddColumn("description", "text");
            ledger.AddColumn("created_at", "timestamptz").NotNull();
            ledger.Indexes.Add(new IndexDefinition("ix_budget_ledger_budget") { Columns = ["budget_id", "created_at"] });
            // A model call is charged once per budget, however often it runs.
            ledger.Indexes.Add(new IndexDefinition("uq_budget_ledger_ref") { Columns = ["ref_id", "budget_id"], IsUnique = true, Predicate = "ref_id is not null" });
            marten.Storage.ExtendedSchemaObjects.Add(ledger);

            // What running model calls may still cost: held out of the balance until each is charged what it did cost.
            var reservations = new Table("everruns.budget_reservations");
            reservations.AddColumn("call_key", "text").AsPrimaryKey();
            reservations.AddColumn("budget_id", "text").AsPrimaryKey();
            reservations.AddColumn("amount", "numeric").NotNull();
            reservations.AddColumn("max_output", "integer").NotNull();
            reservations.AddColumn("created_at", "timestamptz").NotNull();
            marten.Storage.ExtendedSchemaObjects.Add(reservations);
        });
    }
}
