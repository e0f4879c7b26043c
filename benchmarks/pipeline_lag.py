"""How far `billing-ledger up`'s processor and projections are behind its Postgres log, sampled
about once a second in the benchmark's process while a burst runs and after it, until drained.

The figures are `billing-ledger status`'s (the same tables: the log's head against the
processor's tracked position, the domain events' head against each projection's position),
read with one connection instead of a `status` process per sample: starting a CLI process
each second would take CPU from the run being measured.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from billing_ledger.cli.status import EVENTS, PROJECTIONS, TRACKING
from billing_ledger.eventlog.postgres import SCHEMA, TABLE

SAMPLE_SECONDS = 1.0


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the burst began
    logged: int  # records in the log of record
    processed: int  # the processor's position in it
    domain_events: int
    projected: int  # the position of the projection furthest behind
    projections: int

    @property
    def to_process(self) -> int:
        return self.logged - self.processed

    @property
    def to_project(self) -> int:
        return self.domain_events - self.projected


@dataclass
class LagReport:
    burst_seconds: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    drained_at: float | None = None  # seconds since the burst began; None: not in the bound

    @property
    def at_burst_end(self) -> Sample | None:
        during = [s for s in self.samples if s.at <= self.burst_seconds]
        return during[-1] if during else None

    @property
    def drain_seconds(self) -> float | None:
        return None if self.drained_at is None else self.drained_at - self.burst_seconds

    def describe(self) -> str:
        end = self.at_burst_end
        during = [s for s in self.samples if s.at <= self.burst_seconds]
        if end is None:
            return "lag: no sample"
        rate = end.processed / self.burst_seconds if self.burst_seconds else 0.0
        worst = max(during, key=lambda s: s.to_process + s.to_project)
        drain = (
            f"drained {self.drain_seconds:.0f} s after the burst"
            if self.drain_seconds is not None
            else "NOT drained within the bound"
        )
        return (
            f"lag at burst end: {end.to_process:,} to process, {end.to_project:,} to project "
            f"(max during: {worst.to_process:,} / {worst.to_project:,}); processed during the "
            f"burst {rate:,.0f}/s; {drain}"
        )

    def timeline(self, every: float = 10.0) -> str:
        """One line per `every` seconds: seconds, to process, to project."""
        shown: list[str] = []
        next_at = 0.0
        for s in self.samples:
            if s.at >= next_at:
                shown.append(f"{s.at:.0f}s {s.to_process}/{s.to_project}")
                next_at = s.at + every
        return "  ".join(shown)


class LagSampler:
    """Samples `dsn` in a thread from `start` until `stop`; `drain` then samples until every
    record is processed and every domain event projected, or `bound` seconds pass."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self.report = LagReport()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._began = 0.0

    def start(self) -> None:
        self._began = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.report.burst_seconds = time.monotonic() - self._began
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def drain(self, bound: float) -> LagReport:
        """Sample until drained or `bound` seconds after the burst; the report."""
        deadline = time.monotonic() + bound
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            projections = max((s.projections for s in self.report.samples), default=0)
            while time.monotonic() < deadline:
                sample = self._sample(conn)
                self.report.samples.append(sample)
                if (
                    sample.to_process == 0
                    and sample.to_project == 0
                    and sample.projections >= max(projections, 1)
                ):
                    self.report.drained_at = sample.at
                    break
                time.sleep(SAMPLE_SECONDS)
        return self.report

    def _run(self) -> None:
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            while not self._stop.wait(SAMPLE_SECONDS):
                self.report.samples.append(self._sample(conn))

    def _sample(self, conn: psycopg.Connection[Any]) -> Sample:
        at = time.monotonic() - self._began
        # One statement: one snapshot, so the processor cannot appear ahead of the log.
        row = _row(conn, SAMPLE)
        return Sample(at, *row)


SAMPLE = f"""SELECT (SELECT max(position) FROM {SCHEMA}.{TABLE}),
    (SELECT max(notification_id) FROM {TRACKING}),
    (SELECT max(notification_id) FROM {EVENTS}),
    (SELECT min(position) FROM {PROJECTIONS}),
    (SELECT count(*) FROM {PROJECTIONS})"""


def _row(conn: psycopg.Connection[Any], query: str) -> tuple[int, int, int, int, int]:
    """The row of SAMPLE with NULLs as 0, or zeros before the tables exist."""
    try:
        row = conn.execute(query).fetchone()
    except psycopg.errors.UndefinedTable:
        return (0, 0, 0, 0, 0)
    if row is None:
        return (0, 0, 0, 0, 0)
    a, b, c, d, e = (int(v or 0) for v in row)
    return a, b, c, d, e
