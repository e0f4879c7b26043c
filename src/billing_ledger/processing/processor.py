"""The processor: log of record → aggregates, with the log position tracked in the same
transaction as the domain events it caused (exactly once, whatever crashes or redeliveries).

Records are applied in batches of one log name; aggregates touched twice in a batch are kept in
memory between the two, and the batch is written with the position of its last record. A record
that cannot be understood goes to the dead-letter record with its reason and the batch goes on.

It holds no connection of its own: the application's store is whatever eventsourcing's
`PERSISTENCE_MODULE` chose, the log and the dead-letter record are ports (`EventLog`,
`UnappliedRecords`). bootstrap builds it on Postgres (and Kafka); unit tests on the in-memory
adapters.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from uuid import UUID

import psycopg
from eventsourcing.persistence import IntegrityError, PersistenceError, Tracking

from billing_ledger.domain.errors import UnprocessableEvent, WholeHistoryNeeded
from billing_ledger.domain.handling import (
    IGNORED_EVENT_TYPES,
    A,
    Owned,
    aggregate_ids,
    apply_stripe_event,
    is_handled,
    read_snapshots,
)
from billing_ledger.domain.stripe_object import StripeObject
from billing_ledger.errors import BillingLedgerError
from billing_ledger.eventlog.dead_letter_port import UnappliedRecords
from billing_ledger.eventlog.port import EventLog, LoggedEvent, LogUnavailable
from billing_ledger.infra.metrics import EVENTS_PROCESSED, UNHANDLED_EVENT_TYPES
from billing_ledger.processing import snapshots
from billing_ledger.processing.application import BillingApplication
from billing_ledger.processing.snapshots import AggregateSnapshot
from billing_ledger.schemas.envelope import MalformedEvent, StripeEvent, parse_event

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
# Domain events written per transaction: a log batch (500 records) usually commits whole. The
# store's recorder (event_store.py) inserts without psycopg's pipeline mode, whose insert hung
# for good from a few hundred events of ~2 KB; the bound keeps a transaction's size in check.
MAX_EVENTS_PER_COMMIT = 1_000
# Aggregates kept in memory between batches (least recently used first out): a bound on memory
# whatever the history's size, and large enough to hold the objects a stream keeps touching.
AGGREGATE_CACHE_SIZE = 4_096


class AlreadyReapplied(BillingLedgerError):
    """A dead letter's retry was already recorded (or raced another writer): nothing changed."""


class Processor:
    def __init__(
        self, app: BillingApplication, log_: EventLog, dead_letters: UnappliedRecords
    ) -> None:
        self._app = app
        self._log = log_
        self._dead_letters = dead_letters
        self._cache = AggregateCache(AGGREGATE_CACHE_SIZE)

    def processed(self, log_name: str) -> int | None:
        """The last position of `log_name` whose effects are recorded."""
        return self._app.process_recorder.max_tracking_id(log_name)

    def run(self, stop: threading.Event) -> None:
        """Follow the log until `stop` is set; outages are waited out, never fatal."""
        while not stop.is_set():
            try:
                for batch in self._log.follow(self.processed, stop):
                    self.process(batch)
            except (LogUnavailable, PersistenceError, psycopg.OperationalError) as e:
                # A conflicting writer (IntegrityError) or an outage: start again from the
                # positions of record once things answer.
                log.warning("processor paused: %s", type(e).__name__)
                stop.wait(RETRY_SECONDS)
            except Exception:
                log.exception("processor failed; retrying from the positions of record")
                stop.wait(RETRY_SECONDS)

    def process(self, batch: list[LoggedEvent]) -> None:
        """Apply one batch of one log name. Effects commit together with the position of the
        last record they include, in chunks of at most MAX_EVENTS_PER_COMMIT domain events.

        Aggregates come from the cache when this process committed them last; any error (a
        conflicting writer's IntegrityError included) empties it, so the retry loads what the
        store holds."""
        try:
            self._process(batch)
        except BaseException:
            self._cache.clear()
            raise

    def _process(self, batch: list[LoggedEvent]) -> None:
        parsed = _parse_all(batch)
        absent = self._absent(parsed.values())
        chunk = _Chunk(Touched(self._app, self._cache, absent))
        for n, logged in enumerate(batch):
            read = parsed.get(n)
            try:
                event = read.event if read is not None else parse_event(logged.record.body)
                owned = read.owned if read is not None else None
                outcome = self._apply_event(event, chunk.touched, owned)
            except (MalformedEvent, UnprocessableEvent) as e:
                chunk = self._set_aside(chunk, logged, e.reason)
                outcome = "dead_lettered"
            except (PersistenceError, psycopg.Error, LogUnavailable):
                raise  # the infrastructure, not the record: retry the batch from its position
            except Exception as e:  # a bug must not stop the pipeline: keep the record aside
                log.exception("cannot apply %s", logged.record.event_id)
                chunk = self._set_aside(chunk, logged, f"internal error: {type(e).__name__}")
                outcome = "dead_lettered"
            chunk.done.append((logged, outcome))
            if chunk.touched.pending_count() >= MAX_EVENTS_PER_COMMIT:
                self._commit(chunk)
                chunk = _Chunk(Touched(self._app, self._cache, absent))
        if chunk.done:
            self._commit(chunk)

    def _set_aside(self, chunk: _Chunk, logged: LoggedEvent, reason: str) -> _Chunk:
        """A record failed part-way: none of its changes may be stored or stay in memory.

        An aggregate the chunk had kept before it carries the failed record's changes in its
        state: its pending events are cut back to the kept ones and the chunk so far commits
        now, without the failed record, after which that aggregate is loaded afresh. The record
        goes to the dead letters of the chunk that follows."""
        if chunk.touched.undo_failed_changes():
            self._commit(chunk)
            chunk = _Chunk(Touched(self._app, self._cache, chunk.touched.absent))
        chunk.dead.append((logged, reason))
        return chunk

    def _commit(self, chunk: _Chunk) -> None:
        if chunk.dead:
            self._dead_letter(chunk.dead)
        last = chunk.done[-1][0]
        try:
            self._app.events.put(
                chunk.touched.collect_events(), tracking=Tracking(last.log_name, last.position)
            )
        except IntegrityError:
            log.warning("%s up to %s was already processed elsewhere", last.log_name, last.position)
            raise
        chunk.touched.committed()
        self._snapshot(chunk.touched.snapshots_due())
        outcomes = Counter(outcome for _, outcome in chunk.done)
        for outcome, count in outcomes.items():
            EVENTS_PROCESSED.labels(outcome).inc(count)
        # One line per commit at INFO (a backlog of a million events is not a million lines);
        # one per event at DEBUG.
        log.info(
            "events processed",
            extra={
                "log_name": last.log_name,
                "position": last.position,
                "outcomes": dict(outcomes),
            },
        )
        if log.isEnabledFor(logging.DEBUG):
            for logged, outcome in chunk.done:
                log.debug("event processed", extra={**_fields(logged), "outcome": outcome})

    def _snapshot(self, aggregates: list[StripeObject]) -> None:
        """Write snapshots of committed aggregates (a cache: a failure only costs later loads)."""
        store = self._app.snapshots
        if not aggregates or store is None:
            return
        try:
            store.put([AggregateSnapshot.of(aggregate) for aggregate in aggregates])
        except PersistenceError as e:
            log.warning("snapshots not written: %s", type(e).__name__)

    def reapply(self, logged: LoggedEvent, tracking_name: str) -> str:
        """Apply one dead-lettered record again, after a fix, through the same code path.

        Its domain events commit in one transaction with a tracking row of its own
        (`tracking_name`, position 1), so the retry happens at most once: a second attempt, or
        one racing another, is refused with AlreadyReapplied and changes nothing. Raises
        MalformedEvent or UnprocessableEvent if the record still cannot be applied.
        """
        if self._app.process_recorder.has_tracking_id(tracking_name, 1):
            raise AlreadyReapplied(tracking_name)
        touched = Touched(self._app, AggregateCache(0))
        outcome = self._apply(logged, touched)
        try:
            self._app.events.put(touched.collect_events(), tracking=Tracking(tracking_name, 1))
        except IntegrityError:
            if self._app.process_recorder.has_tracking_id(tracking_name, 1):
                raise AlreadyReapplied(tracking_name) from None
            raise  # a concurrent write to the same aggregate: nothing committed, try again
        return outcome

    def _absent(self, parsed: Iterable[_Read]) -> set[UUID]:
        """The aggregates a batch will load that the store does not hold (nor the cache):
        asked in one query, instead of one failed load each. Another writer creating one
        meanwhile makes our commit conflict (IntegrityError) and the batch start again."""
        wanted = {
            i
            for read in parsed
            if read.owned is not None
            for i in aggregate_ids(read.event, read.owned)
            if i not in self._cache
        }
        return wanted - self._app.existing(wanted)

    def _apply(self, logged: LoggedEvent, touched: Touched) -> str:
        return self._apply_event(parse_event(logged.record.body), touched)

    def _apply_event(
        self, event: StripeEvent, touched: Touched, owned: Sequence[Owned] | None = None
    ) -> str:
        if event.type in IGNORED_EVENT_TYPES:
            return "ignored"
        if not is_handled(event.type):
            UNHANDLED_EVENT_TYPES.labels(event.type).inc()
            return "unhandled"
        before = touched.pending_count()
        touched.keep(self._apply_whole(event, touched, owned))
        return "applied" if touched.pending_count() > before else "unchanged"

    @staticmethod
    def _apply_whole(
        event: StripeEvent, touched: Touched, owned: Sequence[Owned] | None
    ) -> list[StripeObject]:
        """`apply_stripe_event`, loading each aggregate that needs its whole history for it
        from all its events (WholeHistoryNeeded is raised before anything changes), once."""
        loaded: set[UUID] = set()
        while True:
            try:
                return apply_stripe_event(event, touched.load, owned)
            except WholeHistoryNeeded as e:
                if e.aggregate_id in loaded:
                    raise  # loaded whole, it cannot ask again: a bug, kept aside by the caller
                loaded.add(e.aggregate_id)
                touched.load_whole(e.aggregate_id)

    def _dead_letter(self, dead: list[tuple[LoggedEvent, str]]) -> None:
        self._dead_letters.keep_unapplied(dead)
        for logged, reason in dead:
            log.warning(
                "dead-lettered %s at %s:%s: %s",
                logged.record.event_id,
                logged.log_name,
                logged.position,
                reason,
                extra={**_fields(logged), "outcome": "dead_lettered"},
            )


class AggregateCache:
    """Aggregates as this process last committed them, most recently used last.

    Only clean aggregates (no pending events) whose events are in the store are put here. If
    another process writes one of them (a dead letter's retry), the next commit of our stale
    copy conflicts on its version (IntegrityError) and the processor empties the cache.
    """

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._by_id: OrderedDict[UUID, StripeObject] = OrderedDict()

    def __contains__(self, aggregate_id: object) -> bool:
        return aggregate_id in self._by_id

    def get(self, aggregate_id: UUID) -> StripeObject | None:
        aggregate = self._by_id.get(aggregate_id)
        if aggregate is not None:
            self._by_id.move_to_end(aggregate_id)
        return aggregate

    def put(self, aggregate: StripeObject) -> None:
        if self._maxsize <= 0:
            return
        self._by_id[aggregate.id] = aggregate
        self._by_id.move_to_end(aggregate.id)
        while len(self._by_id) > self._maxsize:
            self._by_id.popitem(last=False)

    def discard(self, aggregate_id: UUID) -> None:
        self._by_id.pop(aggregate_id, None)

    def clear(self) -> None:
        self._by_id.clear()


class Touched:
    """The aggregates a batch changed: each loaded once, then kept in memory between events."""

    def __init__(
        self, app: BillingApplication, cache: AggregateCache, absent: set[UUID] | None = None
    ) -> None:
        self._app = app
        self._cache = cache
        # Aggregates known not to be in the store when the batch began (shared by its chunks).
        self._absent = absent if absent is not None else set()
        self._by_id: dict[UUID, StripeObject] = {}
        # Every aggregate handed out from the cache since the last keep: one an event mutated
        # and then failed on must not stay in the cache with uncommitted changes.
        self._lent: dict[UUID, StripeObject] = {}
        # Kept aggregates handed out again since the last keep, and those whose in-memory state
        # a failed record changed (committed, then left out of the cache).
        self._reused: set[UUID] = set()
        self._spoiled: set[UUID] = set()
        self._pending: dict[UUID, int] = {}
        self._pending_total = 0

    @property
    def absent(self) -> set[UUID]:
        return self._absent

    def load(self, cls: type[A], aggregate_id: UUID) -> A | None:
        cached = self._by_id.get(aggregate_id)
        if cached is not None:
            assert isinstance(cached, cls)
            self._reused.add(aggregate_id)
            return cached
        shared = self._cache.get(aggregate_id)
        if shared is not None:
            if not isinstance(shared, cls):
                raise TypeError(f"aggregate {aggregate_id} is a {type(shared).__name__}")
            self._lent[aggregate_id] = shared
            return shared
        if aggregate_id in self._absent:
            return None
        return self._app.load(cls, aggregate_id)

    def load_whole(self, aggregate_id: UUID) -> None:
        """Hold `aggregate_id` as loaded from all its stored events, then this chunk's pending
        ones: with its parts' whole histories in memory, for a snapshot older than their
        frontiers (domain/frontier.py). The copy it replaces leaves the cache."""
        self._cache.discard(aggregate_id)
        self._lent.pop(aggregate_id, None)
        kept = self._by_id.get(aggregate_id)
        pending = list(kept.pending_events) if kept is not None else []
        whole: Any = self._app.from_events(aggregate_id)
        for event in pending:
            whole = cast("Any", event).mutate(whole)
        if whole is None:
            return  # not stored, nothing pending: the aggregate does not exist yet
        whole.pending_events.extend(pending)
        self._by_id[aggregate_id] = whole
        self._pending.setdefault(aggregate_id, len(pending))

    def keep(self, aggregates: list[StripeObject]) -> None:
        for aggregate in aggregates:
            self._by_id[aggregate.id] = aggregate
            pending = len(aggregate.pending_events)
            self._pending_total += pending - self._pending.get(aggregate.id, 0)
            self._pending[aggregate.id] = pending
        self._forget_dirty_lent()
        self._reused.clear()

    def undo_failed_changes(self) -> bool:
        """After an event failed: cached aggregates it may have changed leave the cache, and the
        events it added to kept aggregates are dropped. True if it had changed a kept one (whose
        state in memory is then wrong: commit what was kept, then load it afresh)."""
        self._forget_dirty_lent()
        for aggregate_id in self._reused:
            aggregate = self._by_id[aggregate_id]
            kept = self._pending[aggregate_id]
            if len(aggregate.pending_events) > kept:
                del aggregate.pending_events[kept:]
                self._spoiled.add(aggregate_id)
        self._reused.clear()
        return bool(self._spoiled)

    def committed(self) -> None:
        """The batch's events are stored: its clean aggregates go to the cache."""
        self._forget_dirty_lent()
        for aggregate in self._by_id.values():
            if aggregate.id in self._spoiled:
                self._cache.discard(aggregate.id)
            else:
                self._cache.put(aggregate)
            self._absent.discard(aggregate.id)

    def snapshots_due(self) -> list[StripeObject]:
        """The committed aggregates whose version passed a multiple of snapshots.EVERY (not
        those a failed record changed in memory)."""
        return [
            aggregate
            for aggregate in self._by_id.values()
            if aggregate.id not in self._spoiled
            and snapshots.due(aggregate, self._pending.get(aggregate.id, 0))
        ]

    def _forget_dirty_lent(self) -> None:
        for aggregate_id, aggregate in self._lent.items():
            if aggregate_id not in self._by_id and aggregate.pending_events:
                self._cache.discard(aggregate_id)
        self._lent.clear()

    def pending_count(self) -> int:
        """Pending events of the kept aggregates, counted as they are kept (not re-summed per
        record: that made a chunk quadratic in its aggregates)."""
        return self._pending_total

    def collect_events(self) -> list[Any]:
        return [event for a in self._by_id.values() for event in a.collect_events()]


@dataclass(frozen=True)
class _Read:
    """A readable record: its event and, unless they are unreadable, the event's snapshots."""

    event: StripeEvent
    owned: Sequence[Owned] | None


def _fields(logged: LoggedEvent) -> dict[str, object]:
    """What a log line says of a record (never its body)."""
    return {
        "event_id": logged.record.event_id,
        "event_type": logged.record.event_type,
        "account": logged.record.account,
        "livemode": logged.record.livemode,
        "log_name": logged.log_name,
        "position": logged.position,
    }


def _parse_all(batch: list[LoggedEvent]) -> dict[int, _Read]:
    """The batch's readable events by index, their snapshots read once (what fails here fails
    again when applied, and is dead-lettered there)."""
    parsed: dict[int, _Read] = {}
    for n, logged in enumerate(batch):
        try:
            event = parse_event(logged.record.body)
        except Exception:
            continue
        owned: Sequence[Owned] | None = None
        if event.type not in IGNORED_EVENT_TYPES:
            try:
                owned = read_snapshots(event)
            except Exception:
                owned = None
        parsed[n] = _Read(event, owned)
    return parsed


@dataclass
class _Chunk:
    """Records applied since the last commit: their aggregates, outcomes and dead letters."""

    touched: Touched
    done: list[tuple[LoggedEvent, str]] = field(default_factory=list)
    dead: list[tuple[LoggedEvent, str]] = field(default_factory=list)
