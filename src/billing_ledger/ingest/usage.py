"""Secret-usage counts written in groups: one write in flight, covering every webhook that was
verified while the previous one ran (group commit).

One upsert of the same row per webhook, each through a worker thread and one of the pool's four
connections, cost ingest ~0.36 ms of CPU per request (measured under benchmarks/ingest.py), as
much as verifying, parsing and answering the webhook. A request still awaits the write that
carries its count, so the count is stored before the 200 whenever the write succeeds. The
Postgres log needs none of this: it counts in the append's own transaction
(`PostgresEventLog.count_secret_usage`); the Kafka log's endpoint uses it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Protocol

from starlette.concurrency import run_in_threadpool


class SecretUsageRecorder(Protocol):
    """Counts, per secret fingerprint, the events it verified (tells when one can retire)."""

    def record(self, secret_fingerprint: str, count: int = 1) -> None:
        """Best effort: a failure here must not refuse an event the log already accepted."""


class GroupedUsage:
    """Adds verified counts through `recorder`, one write at a time, each carrying every count
    that arrived since the previous write began. Lives on one event loop."""

    def __init__(self, recorder: SecretUsageRecorder) -> None:
        self._recorder = recorder
        self._pending: Counter[str] = Counter()
        self._written: asyncio.Future[None] | None = None
        self._writing: asyncio.Task[None] | None = None

    async def record(self, secret_fingerprint: str) -> None:
        """Return once the count is written; raise what the write raised."""
        self._pending[secret_fingerprint] += 1
        if self._written is None:
            self._written = asyncio.get_running_loop().create_future()
        written = self._written
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._write_all())
        # shield: a client that disconnects must not cancel the write other requests await
        await asyncio.shield(written)

    async def _write_all(self) -> None:
        try:
            while self._pending and self._written is not None:
                counts, self._pending = self._pending, Counter()
                written, self._written = self._written, None
                try:
                    await run_in_threadpool(self._write, counts)
                except Exception as e:
                    written.set_exception(e)
                    written.exception()  # retrieved here: nobody may be waiting any more
                else:
                    written.set_result(None)
        finally:
            self._writing = None

    def _write(self, counts: Counter[str]) -> None:
        for secret_fingerprint, count in counts.items():
            self._recorder.record(secret_fingerprint, count)
