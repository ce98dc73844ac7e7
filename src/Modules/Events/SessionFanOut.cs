using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using Everruns.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Everruns.Modules.Events;

/// <summary>
/// Live delivery to the SSE streams of one session on this instance from one loop per session. A stream that has
/// caught up hands itself to its session's loop; on each notification the loop reads the new events once per
/// (filter, position) and writes them to every stream in turn, without waking a task per stream. Events this instance
/// commits itself come from memory instead (<see cref="Committed"/>), unread. A stream whose
/// client does not keep up (its write does not complete at once) is let go: its own task waits for the write, catches
/// up by itself and hands itself back. So a slow client never holds up the others.
/// </summary>
public sealed class SessionFanOut(SessionEventReader reader, SessionSignals signals, SseOptions options, ILogger<SessionFanOut> logger)
{
    public const int BatchSize = 500;
    private const int MaxGatherMs = 10;

    private readonly ConcurrentDictionary<string, Hub> _hubs = new();
    private readonly SessionEventReader _reader = reader;
    private readonly SessionSignals _signals = signals;
    private readonly ILogger _logger = logger;

    /// <summary>
    /// A loop that had no signal for this long reads anyway (SSE_CATCH_UP_SECS): instances notify of their commits just
    /// after them (see <see cref="EventNotifier"/>), so one that dies in between leaves its last events unannounced.
    /// </summary>
    private readonly TimeSpan _catchUp = options.CatchUp;

    /// <summary>Hands a stream that has delivered everything up to <paramref name="after"/> to its session's loop.</summary>
    public void Attach(LiveStream stream, long after)
    {
        stream.Attaching(after);
        while (true)
        {
            var hub = _hubs.GetOrAdd(stream.SessionId, id => new Hub(this, id));
            if (hub.TryAdd(stream)) return;
            _hubs.TryRemove(new KeyValuePair<string, Hub>(stream.SessionId, hub)); // it was closing: make a new one
        }
    }

    /// <summary>Whether the session has a live loop on this instance (while it has attached streams).</summary>
    public bool Serves(string sessionId) => _hubs.ContainsKey(sessionId);

    /// <summary>
    /// A session's events, all of those the <paramref name="transaction"/> appended, as this instance just committed them
    /// (<see cref="CommittedEvents"/>): its live loop writes them without reading them back.
    /// </summary>
    public void Committed(string sessionId, object transaction, Offered events)
    {
        if (_hubs.TryGetValue(sessionId, out var hub)) hub.Offer(transaction, events);
    }

    /// <summary>A transaction of this instance is about to commit events of the session (see <see cref="CommittedEvents"/>).</summary>
    public void Expect(string sessionId, object transaction)
    {
        if (_hubs.TryGetValue(sessionId, out var hub)) hub.Expect(transaction);
    }

    /// <summary>The transaction committed, and its events will not be offered.</summary>
    public void Expected(string sessionId, object transaction)
    {
        if (_hubs.TryGetValue(sessionId, out var hub)) hub.Offer(transaction, null);
    }

    public sealed record Offered(long From, long Through, IReadOnlyList<StoredEvent> Events);

    /// <summary>How long a loop woken by a notification waits for the events that a commit of this instance will offer.</summary>
    private static readonly TimeSpan OfferWait = TimeSpan.FromMilliseconds(10);

    /// <summary>An expected commit not offered within this time failed (or offered nothing): it is forgotten.</summary>
    private static readonly TimeSpan ExpectFor = TimeSpan.FromSeconds(1);

    internal sealed class Hub
    {
        private readonly SessionFanOut _owner;
        private readonly string _sessionId;
        private readonly List<LiveStream> _streams = [];
        private readonly Wakeup _wake = new();
        private readonly IDisposable _listening;
        private readonly HashSet<string> _types = [];
        private bool _anyType; // a signal without a type, or a stream that joined: read for every filter
        private bool _unsure; // a signal without a sequence, or a stream that joined: read whatever the position
        private long _latest; // the highest sequence signalled since the last round
        private readonly List<Offered> _offered = []; // committed here since the last round
        private readonly Dictionary<object, long> _expected = []; // transactions of this instance committing events here
        private bool _closed;

        // The type filters of the attached streams, one per distinct filter (null: every type); replaced, never changed.
        private Func<string, bool>?[] _interests = [];

        public Hub(SessionFanOut owner, string sessionId)
        {
            _owner = owner;
            _sessionId = sessionId;
            _listening = owner._signals.Listen(sessionId, Signal);
            _ = Task.Run(RunAsync);
        }

        private void Signal(string? type, long? sequence)
        {
            // Only a type some stream here would send wakes the loop (most streams of a busy session filter by type).
            if (type is not null && !Volatile.Read(ref _interests).Any(wants => wants is null || wants(type))) return;
            lock (_types)
            {
                if (type is null) _anyType = true;
                else _types.Add(type);
                if (sequence is not { } at) _unsure = true;
                else if (at > _latest) _latest = at;
            }

            _wake.Pulse();
        }

        /// <summary>Events this instance committed (or null: none to offer): delivered from memory to the streams they continue.</summary>
        public void Offer(object transaction, Offered? offered)
        {
            lock (_types)
            {
                _expected.Remove(transaction);
                if (offered is null) return;
                _offered.Add(offered);
                foreach (var e in offered.Events) _types.Add(e.Type);
                if (offered.Through > _latest) _latest = offered.Through;
            }

            _wake.Pulse();
        }

        public void Expect(object transaction)
        {
            lock (_types) _expected[transaction] = Environment.TickCount64;
        }

        /// <summary>Whether a commit of this instance is about to offer events (those expected too long ago are forgotten).</summary>
        private bool Expecting()
        {
            lock (_types)
            {
                if (_expected.Count == 0) return false;
                var stale = Environment.TickCount64 - (long)ExpectFor.TotalMilliseconds;
                foreach (var (transaction, since) in _expected.ToList())
                    if (since < stale) _expected.Remove(transaction);
                return _expected.Count > 0;
            }
        }

        /// <summary>The next round reads for every stream (one joined, or a full page calls for more).</summary>
        private void ReadAll()
        {
            ReadAllThisRound();
            _wake.Pulse();
        }

        /// <summary>The round about to start reads for every stream.</summary>
        private void ReadAllThisRound()
        {
            lock (_types)
            {
                _anyType = true;
                _unsure = true;
            }
        }

        public bool TryAdd(LiveStream stream)
        {
            lock (_streams)
            {
                if (_closed) return false;
                _streams.Add(stream);
                stream.Hub = this;
                Volatile.Write(ref _interests, Interests());
            }

            // Its first read is from where it stopped, whatever the signals since: an event committed after its own last
            // read and signalled before it got here is not missed.
            ReadAll();
            return true;
        }

        public void Remove(LiveStream stream)
        {
            bool empty;
            lock (_streams)
            {
                _streams.Remove(stream);
                empty = _streams.Count == 0;
                Volatile.Write(ref _interests, Interests());
            }

            if (empty) _wake.Pulse(); // let the loop close
        }

        private Func<string, bool>?[] Interests() =>
            _streams.DistinctBy(stream => stream.Filter.Key).Select(stream => stream.Filter.WantsType).ToArray();

        private async Task RunAsync()
        {
            while (true)
            {
                try
                {
                    await WaitForWorkAsync();
                }
                catch (Exception e)
                {
                    // The loop never ends but by closing: its streams would wait for ever. This round reads for all.
                    _owner._logger.LogError(e, "The live loop of session {Session} failed waiting; it reads for every stream", _sessionId);
                    ReadAllThisRound();
                    await Task.Delay(TimeSpan.FromMilliseconds(100)); // not a busy loop should it fail again
                }

                LiveStream[] streams;
                lock (_streams)
                {
                    if (_streams.Count == 0)
                    {
                        _closed = true;
                        _listening.Dispose();
                        _wake.Dispose();
                        _owner._hubs.TryRemove(new KeyValuePair<string, Hub>(_sessionId, this));
                        return;
                    }

                    streams = _streams.ToArray();
                }

                string[]? types;
                long? latest;
                Offered[] offered;
                lock (_types)
                {
                    types = _anyType ? null : [.. _types];
                    latest = _unsure ? null : _latest;
                    offered = _offered.Count == 0 ? [] : [.. _offered.OrderBy(o => o.From)];
                    _types.Clear();
                    _offered.Clear();
                    _anyType = false;
                    _unsure = false;
                    _latest = 0;
                }

                try
                {
                    if (await RoundAsync(streams, types, latest, offered)) ReadAll();
                }
                catch (Exception e)
                {
                    // Never a silent stop: every stream of the round goes back to reading by itself.
                    _owner._logger.LogError(e, "The live loop of session {Session} failed a round; its streams read by themselves", _sessionId);
                    foreach (var stream in streams) stream.Release(stream.After, e);
                }
            }
        }

        private async Task WaitForWorkAsync()
        {
            // A quiet while: read anyway, for a notification lost with an instance that died as it committed.
            if (!await _wake.WaitAsync(_owner._catchUp, CancellationToken.None)) ReadAllThisRound();

            // Writing to many streams takes a while (about 15 ms per 1,000 on two cores), and a turn commits its events
            // in a few transactions milliseconds apart: a session with many streams gathers what comes in a short
            // window (1 ms per 100 streams, 10 ms at most) and writes it in one round instead of one per commit.
            int count;
            lock (_streams) count = _streams.Count;
            if (count >= 100) await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(count / 100, MaxGatherMs)));
            // A notification may come before the events a commit of this instance offers: wait for them a little. What is
            // left of the wait is taken once: read twice, the clock may pass the end in between (a busy machine), and a
            // negative wait once stopped this loop for good.
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (Expecting())
            {
                var left = OfferWait - waited.Elapsed;
                if (left <= TimeSpan.Zero) break;
                await _wake.WaitAsync(left, CancellationToken.None);
            }
        }

        /// <summary>
        /// One read per (filter, position) and a write to each stream; true when a full page calls for another round.
        /// <paramref name="latest"/>: the highest sequence signalled, when every signal named one; <paramref name="offered"/>:
        /// what this instance committed meanwhile, oldest first.
        /// </summary>
        private async Task<bool> RoundAsync(LiveStream[] streams, string[]? types, long? latest, Offered[] offered)
        {
            var more = false;
            foreach (var group in streams.GroupBy(s => (s.Filter.Key, s.After)))
            {
                var filter = group.First().Filter;
                // What this instance committed continues the group (even with nothing it wants: it moves on past it).
                if (FromMemory(group.Key.After, filter, latest, offered) is { } committed)
                {
                    foreach (var stream in group) stream.Deliver(group.Key.After, committed);
                    continue;
                }

                // A group filtered by type reads only when an event it wants may have come.
                if (types is not null && filter.WantsType is { } wants && !types.Any(wants)) continue;
                // Nor does a group that has read past every event signalled: a commit is notified once per event type it
                // wrote (by the store's trigger, for other writers, once per event), and the first read after it returned all of its
                // events (events commit in sequence order).
                if (group.Key.After >= latest) continue;

                EventSlice slice;
                EverrunsMetrics.SseReads.Add();
                try
                {
                    slice = await _owner._reader.ReadForwardAsync(_sessionId, group.Key.After, BatchSize, filter, CancellationToken.None);
                }
                catch (Exception e)
                {
                    _owner._logger.LogWarning(e, "Reading the live events of session {Session} failed; its streams read by themselves", _sessionId);
                    foreach (var stream in group) stream.Release(group.Key.After, e);
                    continue;
                }

                foreach (var stream in group) stream.Deliver(group.Key.After, slice);
                if (slice.Events.Count == BatchSize) more = true;
            }

            return more;
        }

        /// <summary>
        /// What comes after <paramref name="after"/>, when the events this instance committed continue it without a gap up
        /// to every sequence signalled, and the filter is one of types only; otherwise null (the group reads).
        /// </summary>
        private static EventSlice? FromMemory(long after, EventFilter filter, long? latest, Offered[] offered)
        {
            if (latest is null || offered.Length == 0 || filter is not
                    { TurnId: null, FromTs: null, ToTs: null, ToolName: null, Text: null, TurnTypes: null }) return null;
            var through = after;
            var events = new List<StoredEvent>();
            var wants = filter.WantsType;
            foreach (var o in offered)
            {
                if (o.Through <= through) continue;
                if (o.From > through + 1) break; // a gap: events this instance did not commit
                foreach (var e in o.Events)
                    if (e.Sequence > through && (wants is null || wants(e.Type))) events.Add(e);
                through = o.Through;
            }

            return through >= latest && through > after ? new EventSlice(events, through) : null;
        }
    }

    /// <summary>
    /// One SSE response as its session's loop sees it. Whoever holds it writes: the loop while it is attached, the
    /// stream's own task otherwise; both write under its lock, so a heartbeat never lands inside an event.
    /// </summary>
    public sealed class LiveStream(string sessionId, EventFilter filter, PipeWriter writer)
    {
        private readonly object _gate = new();
        private bool _attached;
        private TaskCompletionSource<Task?> _released = Released();

        public string SessionId { get; } = sessionId;
        public EventFilter Filter { get; } = filter;

        /// <summary>The last sequence delivered (or looked past, when the filter let nothing through).</summary>
        public long After { get; private set; }

        internal Hub? Hub { get; set; }

        /// <summary>
        /// Completes when the loop lets go of the stream (its client did not keep up, or a read failed), with what the
        /// stream's task must await before it writes again: the write still in progress, or the failure.
        /// </summary>
        public Task<Task?> LetGo => _released.Task;

        internal void Attaching(long after)
        {
            lock (_gate)
            {
                After = after;
                _attached = true;
                _released = Released();
            }
        }

        /// <summary>From the loop: the events after <paramref name="from"/>, written if the stream is still there.</summary>
        internal void Deliver(long from, EventSlice slice)
        {
            lock (_gate)
            {
                if (!_attached || After != from) return; // let go (and maybe back, further on) since the loop looked
                After = slice.Head; // written, or in the write the stream's task finishes
                if (slice.Events.Count == 0 || WriteLocked(slice.Frames.Span, out var pending)) return;
                if (pending is { IsFaulted: false }) EverrunsMetrics.SseLagging.Add();
                ReleaseLocked(pending);
            }
        }

        internal void Release(long from, Exception failure)
        {
            lock (_gate)
            {
                if (_attached && After == from) ReleaseLocked(Task.FromException(failure));
            }
        }

        /// <summary>
        /// From the stream's task: writes a comment or an event of its own (a heartbeat) in between the loop's writes.
        /// False, with nothing written, when the loop let go of the stream meanwhile (a write of the loop's may still be
        /// in progress); false too when this write did not complete at once, and the stream is let go. Either way the
        /// stream's task takes over through <see cref="LetGo"/>.
        /// </summary>
        public bool TryWrite(ReadOnlySpan<byte> bytes)
        {
            lock (_gate)
            {
                if (!_attached) return false;
                if (WriteLocked(bytes, out var pending)) return true;
                ReleaseLocked(pending);
                return false;
            }
        }

        /// <summary>From the stream's task: takes the stream back (to end it); the loop writes nothing more to it.</summary>
        public void Detach()
        {
            lock (_gate)
            {
                if (_attached) ReleaseLocked(null);
            }
        }

        private bool WriteLocked(ReadOnlySpan<byte> bytes, out Task? pending)
        {
            try
            {
                writer.Write(bytes);
                var flush = writer.FlushAsync();
                if (!flush.IsCompleted)
                {
                    pending = flush.AsTask();
                    return false;
                }

                flush.GetAwaiter().GetResult(); // surfaces a failure
                pending = null;
                return true;
            }
            catch (Exception e)
            {
                pending = Task.FromException(e);
                return false;
            }
        }

        private void ReleaseLocked(Task? pending)
        {
            _attached = false;
            Hub?.Remove(this);
            Hub = null;
            _released.TrySetResult(pending);
        }

        private static TaskCompletionSource<Task?> Released() => new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
