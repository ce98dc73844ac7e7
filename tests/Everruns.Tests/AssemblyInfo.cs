// Tests share one PostgreSQL server and start real processes on a 2-core machine: run collections one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
