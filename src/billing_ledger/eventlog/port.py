"""The port every log of record implements, and the record it stores.

Invariants every adapter keeps (the contract suite in tests/integration proves them):
- `append` returns only once the record is durable (Postgres commit; Kafka acks=all); if it
  cannot be, it raises LogUnavailable and the record must be treated as not stored.
- Within one `log_name` positions strictly increase in append order, and a follower never skips
  a record, even when concurrent writers commit out of order.
- The log is append-only: nothing is updated or deleted.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

import anyio.to_thread

from billing_ledger.errors import BillingLedgerError


class LogError(BillingLedgerError):
    """Base class of errors raised by the log of record."""


class LogUnavailable(LogError):
    """The log cannot durably accept (or serve) records right now; the caller should retry."""


# How a record entered the log (invariant 11): only a webhook's is verified by a signature.
WEBHOOK = "webhook"  # delivered by Stripe, signed; verified before it was appended
LISTED = "listed"  # an object's snapshot fetched from a list endpoint with our key (backfill)
FETCHED = "fetched"  # an event fetched from /v1/events with our key (reconciliation)
SOURCES = (WEBHOOK, LISTED, FETCHED)


@dataclass(frozen=True)
class EventRecord:
    """A verified Stripe event as the log stores it: its facts, its raw body sealed under its
    data subject's key, and what routing needs.

    `body` is the event's facts: the JSON event with every personal value replaced by a token
    (schemas/personal.py), which is what the processor reads. `sealed` is the raw, verified
    body encrypted with the data key of `data_subject` (None once that person was forgotten:
    facts only). `verified_with` is the fingerprint of the webhook secret that verified it
    (None for events not delivered signed). `source` says how the record entered: `WEBHOOK`
    (signed), or `LISTED` / `FETCHED` (fetched from Stripe's API with our key, so authenticated
    by that call, never as if signed: invariant 11). A record written before sealing existed has the
    raw body as `body` and None in all three (see `is_sealed`; `billing-ledger migrate-log`).
    """

    body: bytes
    event_id: str
    event_type: str
    created: int
    livemode: bool
    account: str  # '' for the platform's own events
    api_version: str | None
    received_at: datetime
    partition_key: str
    sealed: bytes | None = None
    data_subject: str | None = None
    verified_with: str | None = None
    source: str = WEBHOOK

    @property
    def is_sealed(self) -> bool:
        """Written in the sealed format (facts and sealed body), not before it existed."""
        return self.data_subject is not None


@dataclass(frozen=True)
class LoggedEvent:
    """A record together with where it sits in the log: the tracking name and position."""

    log_name: str
    position: int
    record: EventRecord


PositionLookup = Callable[[str], "int | None"]
"""Returns the last position already processed for a log name, or None to start at the beginning."""


class EventLog(ABC):
    """The log of record. Thread-safe: `append` may be called from many threads at once."""

    first_position: ClassVar[int] = 1
    """The position of a log name's first record (Kafka offsets start at 0)."""

    def unprocessed(self, last: int, processed: int | None) -> int:
        """How many records up to `last` come after `processed` (None: nothing processed)."""
        return last - (processed if processed is not None else self.first_position - 1)

    @abstractmethod
    def append(self, record: EventRecord) -> None:
        """Store `record` durably before returning; raise LogUnavailable if that is not possible."""

    async def append_async(self, record: EventRecord) -> None:
        """`append` for a caller on an asyncio loop, with the same guarantee: it returns once
        `record` is durable and raises LogUnavailable otherwise, without blocking the loop.

        By default `append` runs in a worker thread; an adapter whose client reports the
        acknowledgement by callback overrides this to wait for it on the loop instead.

        A caller may stop waiting (a timeout cancels it): the record must then be treated as
        not stored, though it may still land (a worker thread is left to finish). A retry may
        then store it twice, which processing absorbs (effects are keyed by event).
        """
        await anyio.to_thread.run_sync(self.append, record, abandon_on_cancel=True)

    @abstractmethod
    def follow(
        self, processed: PositionLookup, stop: threading.Event, batch_size: int = 500
    ) -> Generator[list[LoggedEvent], None, None]:
        """Yield batches of records after the processed positions, waiting for new ones.

        Each batch holds records of one log name in position order. Returns once `stop` is set.
        `processed` is asked again whenever the adapter (re)starts reading a log name.
        """

    @abstractmethod
    def replay(
        self, processed: PositionLookup, until: Mapping[str, int], batch_size: int = 500
    ) -> Iterator[list[LoggedEvent]]:
        """Yield, per log name, the records after the processed positions up to `until`
        (inclusive, typically a `head()` taken before), then return. Reads the whole history
        when nothing is processed yet (Kafka from offset 0); used to rebuild aggregates."""

    def event_ids(self, created_since: int) -> set[str]:
        """The ids of the records whose event was created at or after `created_since` (epoch
        seconds): what reconciliation compares with Stripe's /v1/events. By default the whole
        history is read; an adapter that can ask an index overrides this."""
        head = self.head()
        return {
            logged.record.event_id
            for batch in self.replay(lambda _: None, head)
            for logged in batch
            if logged.record.created >= created_since
        }

    @abstractmethod
    def has_follower(self) -> bool:
        """Whether a processor is following the log right now (a rebuild must not swap then)."""

    @abstractmethod
    def head(self) -> dict[str, int]:
        """The last position of every log name that holds records."""

    @abstractmethod
    def ping(self) -> None:
        """Raise LogUnavailable unless the log answers now."""

    @abstractmethod
    def close(self) -> None:
        """Flush what is pending and release connections."""


def replay_by_reading(
    read: Callable[[int, int], list[LoggedEvent]],
    log_name: str,
    processed: PositionLookup,
    until: Mapping[str, int],
    batch_size: int,
) -> Iterator[list[LoggedEvent]]:
    """`EventLog.replay` for a log of one name whose `read(after, limit)` returns the records
    after a position in order (the Postgres and in-memory logs)."""
    after, last = processed(log_name) or 0, until.get(log_name, 0)
    while after < last:
        batch = [logged for logged in read(after, batch_size) if logged.position <= last]
        if not batch:
            return
        yield batch
        after = batch[-1].position
