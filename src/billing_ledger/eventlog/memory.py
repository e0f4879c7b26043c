"""The log of record in this process's memory: for unit tests and trials without a server.

Nothing survives the process, so "durable" means stored in this object: `append` returns once
every reader of it can see the record. It keeps the port's other invariants as the Postgres
adapter does: one log name (`LOG_NAME`), positions from 1 in append order (drawn and made
visible under one lock, so a follower never skips one), and no way to change or remove a
record. `outage()` makes every call raise LogUnavailable for a while, as a log that does not
answer, so that callers' retries can be tested without killing a server.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager

from billing_ledger.eventlog.port import (
    EventLog,
    EventRecord,
    LoggedEvent,
    LogUnavailable,
    PositionLookup,
    replay_by_reading,
)

LOG_NAME = "memory"
# A follower wakes at least this often to notice `stop` (a threading.Event cannot wake it).
IDLE_WAIT_SECONDS = 0.05


class MemoryEventLog(EventLog):
    def __init__(self) -> None:
        self._records: list[LoggedEvent] = []
        self._changed = threading.Condition()
        self._followers = 0
        self._unavailable = False
        self._closed = False

    def open(self) -> None:
        """Nothing to connect or create: the log is usable once constructed."""

    def append(self, record: EventRecord) -> None:
        with self._changed:
            self._check_available()
            self._records.append(LoggedEvent(LOG_NAME, len(self._records) + 1, record))
            self._changed.notify_all()

    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        """Records with a position greater than `after`, in position order."""
        with self._changed:
            self._check_available()
            start = max(after, 0)
            return self._records[start : start + limit]

    def follow(
        self, processed: PositionLookup, stop: threading.Event, batch_size: int = 500
    ) -> Generator[list[LoggedEvent], None, None]:
        with self._following():
            after = processed(LOG_NAME) or 0
            while not stop.is_set():
                batch = self._read_or_wait(after, batch_size)
                if batch:
                    after = batch[-1].position
                    yield batch

    def replay(
        self, processed: PositionLookup, until: Mapping[str, int], batch_size: int = 500
    ) -> Iterator[list[LoggedEvent]]:
        return replay_by_reading(self.read, LOG_NAME, processed, until, batch_size)

    def has_follower(self) -> bool:
        with self._changed:
            self._check_available()
            return self._followers > 0

    def head(self) -> dict[str, int]:
        with self._changed:
            self._check_available()
            return {LOG_NAME: len(self._records)} if self._records else {}

    def ping(self) -> None:
        with self._changed:
            self._check_available()

    def close(self) -> None:
        """Refuse every later call; followers stop with LogUnavailable."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @contextmanager
    def outage(self) -> Iterator[None]:
        """While inside, every call raises LogUnavailable (followers too), then all answer
        again; nothing appended before is lost."""
        with self._changed:
            self._unavailable = True
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self._unavailable = False
                self._changed.notify_all()

    def _read_or_wait(self, after: int, limit: int) -> list[LoggedEvent]:
        """The records after `after`, or none once IDLE_WAIT_SECONDS passed without any."""
        with self._changed:
            self._check_available()
            if len(self._records) <= after:
                self._changed.wait(IDLE_WAIT_SECONDS)
                self._check_available()
            return self._records[after : after + limit]

    @contextmanager
    def _following(self) -> Iterator[None]:
        with self._changed:
            self._followers += 1
        try:
            yield
        finally:
            with self._changed:
                self._followers -= 1

    def _check_available(self) -> None:
        if self._closed:
            raise LogUnavailable("memory log is closed")
        if self._unavailable:
            raise LogUnavailable("memory log unavailable")
