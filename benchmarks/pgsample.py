"""Counters that do not depend on the machine's load, sampled while a benchmark runs.

A `Sample` reads, at one moment: how far the processor and the projections are, PostgreSQL's
WAL counters (`pg_stat_wal`: records, full-page images, bytes), its buffer traffic
(`pg_stat_io`: hits, reads, writes, evictions of client backends and the checkpointer), the
checkpoints so far, and the CPU time used by the `billing-ledger process` process, its children
(the projector) and the whole PostgreSQL server (postmaster, its live children and the children
it reaped). The difference of two samples, divided by the events processed between them, gives
per-event figures that stay meaningful when other work shares the cores: wall-clock rates do
not, so every line also prints the load average.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import psycopg

from billing_ledger.eventlog.postgres import LOG_NAME
from billing_ledger.processing.application import EVENT_STORE_SCHEMA
from billing_ledger.projections.migrations import READ_SCHEMA

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    at: float = 0.0
    processed: int = 0  # log position applied by the processor
    notified: int = 0  # domain events stored
    projected: int = 0  # the lowest projection position
    wal_records: int = 0
    wal_fpi: int = 0
    wal_bytes: int = 0
    hits: int = 0  # shared-buffer hits, every backend type
    reads: int = 0  # blocks read into shared buffers (from the OS: page cache or disk)
    backend_writes: int = 0  # dirty buffers a client backend had to write itself
    evictions: int = 0
    checkpointer_writes: int = 0
    checkpoints: int = 0
    cpu_process: float = 0.0  # seconds, user + system
    cpu_children: float = 0.0
    cpu_postgres: float = 0.0

    def minus(self, earlier: Sample) -> Sample:
        return Sample(
            **{f.name: getattr(self, f.name) - getattr(earlier, f.name) for f in fields(self)}
        )


def take(conn: psycopg.Connection[Any], at: float, pid: int | None) -> Sample:
    """Read every counter now (`pid`: the `billing-ledger process` to charge CPU to)."""
    progress = _progress(conn)
    wal = conn.execute("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal").fetchone()
    io = conn.execute(
        "SELECT coalesce(sum(hits), 0), coalesce(sum(reads), 0), "
        "coalesce(sum(writes) FILTER (WHERE backend_type = 'client backend'), 0), "
        "coalesce(sum(evictions), 0), "
        "coalesce(sum(writes) FILTER (WHERE backend_type = 'checkpointer'), 0) "
        "FROM pg_stat_io WHERE object = 'relation'"
    ).fetchone()
    checkpoints = conn.execute(
        "SELECT num_timed + num_requested FROM pg_stat_checkpointer"
    ).fetchone()
    assert wal is not None and io is not None and checkpoints is not None
    processed, notified, projected = progress
    return Sample(
        at=at,
        processed=processed,
        notified=notified,
        projected=projected,
        wal_records=int(wal[0]),
        wal_fpi=int(wal[1]),
        wal_bytes=int(wal[2]),
        hits=int(io[0]),
        reads=int(io[1]),
        backend_writes=int(io[2]),
        evictions=int(io[3]),
        checkpointer_writes=int(io[4]),
        checkpoints=int(checkpoints[0]),
        cpu_process=_cpu(pid) if pid else 0.0,
        cpu_children=sum(_cpu(child) for child in _children(pid)) if pid else 0.0,
        cpu_postgres=_server_cpu(conn),
    )


def process_tree_cpu(pid: int) -> float:
    """CPU seconds of `pid` and of its live children."""
    return _cpu(pid) + sum(_cpu(child) for child in _children(pid))


def machine_cpu() -> float:
    """Seconds of CPU the machine has spent working (user, nice, system, irq, softirq)."""
    fields_ = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields_[:7])
    return (user + nice + system + irq + softirq) / TICK


def server_cpu(dsn: str) -> float:
    """CPU seconds of the PostgreSQL server at `dsn` (on this machine): the postmaster, its
    live children and the children it reaped."""
    with psycopg.connect(dsn) as conn:
        return _server_cpu(conn)


def _server_cpu(conn: psycopg.Connection[Any]) -> float:
    postmaster = _postmaster_pid(conn)
    return _cpu_with_reaped(postmaster) + sum(_cpu(c) for c in _children(postmaster))


def line(delta: Sample, total: Sample) -> str:
    """One window's figures, per event processed in it."""
    events = max(delta.processed, 1)
    seconds = max(delta.at, 1e-9)
    load = os.getloadavg()[0]
    return (
        f"at {total.processed:>9,} {delta.processed / seconds:7,.0f}/s load {load:4.1f} | "
        f"cpu us/event proc {delta.cpu_process / events * 1e6:5.0f} "
        f"child {delta.cpu_children / events * 1e6:5.0f} "
        f"pg {delta.cpu_postgres / events * 1e6:5.0f} | "
        f"WAL/event {delta.wal_bytes / events:7,.0f} B fpi {delta.wal_fpi / events:5.2f} | "
        f"buffers/event hit {delta.hits / events:6.1f} read {delta.reads / events:5.2f} "
        f"backend-writes {delta.backend_writes / events:5.2f} "
        f"evict {delta.evictions / events:5.2f} | ckpt {delta.checkpoints}"
    )


def _progress(conn: psycopg.Connection[Any]) -> tuple[int, int, int]:
    try:
        row = conn.execute(
            f"SELECT (SELECT max(notification_id) FROM {EVENT_STORE_SCHEMA}.billing_tracking "
            "WHERE application_name = %s), "
            f"(SELECT max(notification_id) FROM {EVENT_STORE_SCHEMA}.billing_events), "
            f"(SELECT min(position) FROM {READ_SCHEMA}.projection_tracking)",
            (LOG_NAME,),
        ).fetchone()
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        return 0, 0, 0
    assert row is not None
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


def _postmaster_pid(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return _stat(int(row[0]))[1]


def _stat(pid: int) -> list[int]:
    """/proc/pid/stat fields after the command: [state dropped] ppid, …; utime at 11, stime 12,
    cutime 13, cstime 14 (indexes into the returned list)."""
    fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return [0, *(int(x) for x in fields_[1:])]


def _cpu(pid: int) -> float:
    try:
        stat = _stat(pid)
    except (OSError, ValueError):
        return 0.0
    return (stat[11] + stat[12]) / TICK


def _cpu_with_reaped(pid: int) -> float:
    try:
        stat = _stat(pid)
    except (OSError, ValueError):
        return 0.0
    return (stat[11] + stat[12] + stat[13] + stat[14]) / TICK


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if _stat(int(entry.name))[1] == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError):
                continue
    return found
