"""Processing benchmark: N generated events from the Postgres log to the final `billing` tables.

    python -m benchmarks.processing --events 100000

1. Generates the history (benchmarks/history.py) and COPYs it into the log table of a fresh
   database, as ingest would have appended it (reported, not part of the figures).
2. End to end: runs the real `billing-ledger process` over that log and waits until the
   processor has applied the last record and every projector has projected the last domain
   event; reports events/s and the peak RSS (VmHWM) of the process and of its projector child.
3. Stages: on a copy of the loaded database, runs the processor and then the projectors in
   this process, timing each stage: log read, domain apply (of which aggregate loads),
   domain-event write (with tracking), projection (read of notifications, rows written).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from benchmarks import pgsample
from benchmarks.history import Shape
from benchmarks.infra import (
    Stopwatch,
    children_peak_rss_mib,
    cli_env,
    conditions,
    create_database,
    loaded_database,
    master_key,
    peak_rss_mib,
    postgres_server,
    with_dbname,
)
from billing_ledger import bootstrap
from billing_ledger.processing.application import EVENT_STORE_SCHEMA

F = TypeVar("F", bound=Callable[..., Any])
POLL_SECONDS = 0.5
MAX_SECONDS = 3 * 3600  # a bound on the end-to-end wait, whatever the size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, help="default: events / 50")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-stages", action="store_true")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument(
        "--keep-log",
        action="store_true",
        help="keep the loaded log as a template database and start from a copy of it",
    )
    parser.add_argument(
        "--sample", type=float, default=0.0, help="print per-event counters every N seconds"
    )
    parser.add_argument(
        "--window", type=int, default=100_000, help="also report the rate over the last N events"
    )
    args = parser.parse_args()
    shape = Shape(args.seed, args.customers or max(1, args.events // 50), args.months)
    print(f"processing benchmark  {conditions()}")
    print(f"history: seed={shape.seed} customers={shape.customers} months={shape.months}")
    with postgres_server() as server:
        started = time.perf_counter()
        with loaded_database(server, shape, args.events, args.keep_log) as (loaded, count):
            elapsed = time.perf_counter() - started
            print(
                f"{'copied' if args.keep_log else 'generated and loaded'} {count} events "
                f"in {elapsed:.1f}s"
            )
            template = str(psycopg.conninfo.conninfo_to_dict(loaded)["dbname"])
            copy = f"{template}_stages"
            if not args.skip_stages:
                create_database(server, copy, template)
            try:
                if not args.skip_e2e:
                    end_to_end(loaded, count, sample=args.sample, window=args.window)
                if not args.skip_stages:
                    stages(with_dbname(server, copy), count)
            finally:
                with psycopg.connect(server, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    return 0


def end_to_end(dsn: str, count: int, *, sample: float = 0.0, window: int = 100_000) -> None:
    """Run `billing-ledger process` over the loaded log until everything is projected.

    Prints the whole run's rate (startup included, and from the first record processed), the
    rate over the last `window` events (from the moment the processor passed `count - window`
    until the last domain event was projected) and, every `sample` seconds if given, the
    window's per-event counters (pgsample.py)."""
    env = cli_env(dsn)
    started = time.perf_counter()
    # Its log goes to a file: a pipe nobody reads fills up and blocks the processor.
    output = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "billing_ledger", "process"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=output,
    )
    peak = 0.0
    children: dict[int, float] = {}  # the projector process (and multiprocessing's tracker)
    first_at = window_at = 0.0
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            head = _scalar(conn, "SELECT max(position) FROM eventlog.stripe_events")
            first = last = window_sample = now = pgsample.take(conn, 0.0, process.pid)
            while time.perf_counter() - started < MAX_SECONDS:
                if process.poll() is not None:
                    output.seek(0)
                    tail = output.read()[-2000:].decode(errors="replace")
                    raise SystemExit(f"process exited {process.returncode}: {tail}")
                peak = max(peak, peak_rss_mib(process.pid))
                for pid, rss in children_peak_rss_mib(process.pid).items():
                    children[pid] = max(children.get(pid, 0.0), rss)
                now = pgsample.take(conn, time.perf_counter() - started, process.pid)
                if not first_at and now.processed > 0:
                    first_at = now.at
                if not window_at and now.processed > 0 and now.processed >= head - window:
                    window_at, window_sample = now.at, now
                    _reset_statement_statistics(dsn)  # the statements of the window only
                if sample and now.at - last.at >= sample:
                    print(pgsample.line(now.minus(last), now), flush=True)
                    last = now
                if now.processed >= head and now.projected >= now.notified > 0:
                    break
                time.sleep(POLL_SECONDS)
            elapsed = time.perf_counter() - started
            events = _scalar(conn, f"SELECT count(*) FROM {EVENT_STORE_SCHEMA}.billing_events")
            print("whole run: " + pgsample.line(now.minus(first), now))
            print(
                f"last {head - window_sample.processed:,} events: "
                + pgsample.line(now.minus(window_sample), now)
            )
            _print_statements(conn, head - window_sample.processed)
            _print_sizes(conn)
            _print_index_depths(conn)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
        output.close()
    windowed = head - window_sample.processed
    print(
        f"end to end (billing-ledger process, startup included): {count} events in "
        f"{elapsed:.1f}s = {count / elapsed:,.0f} events/s; from the first record processed "
        f"{count / (elapsed - first_at):,.0f} events/s; last {windowed:,} events "
        f"{windowed / (elapsed - window_at):,.0f} events/s ({elapsed - window_at:.1f}s); "
        f"{events} domain events; loadavg {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"peak RSS {peak:.0f} MiB, its children {' + '.join(f'{c:.0f}' for c in children.values())}"
        f" MiB (sum {peak + sum(children.values()):.0f} MiB)"
    )


def _reset_statement_statistics(dsn: str) -> None:
    """Start pg_stat_statements afresh for this database, when the server loads it."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT pg_stat_statements_reset()")
        except psycopg.Error:
            pass  # not preloaded by this server: nothing to report


def _print_statements(conn: psycopg.Connection[Any], events: int, top: int = 25) -> None:
    """The statements that took the server's time over the last `events` events: execution
    µs per event and per call, with their buffer traffic per call."""
    try:
        rows = conn.execute(
            "SELECT total_exec_time, calls, rows, shared_blks_hit, shared_blks_read, "
            "shared_blks_dirtied, shared_blks_written, wal_fpi, wal_bytes, "
            "regexp_replace(left(query, 110), '\\s+', ' ', 'g') FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "ORDER BY total_exec_time DESC LIMIT %s",
            (top,),
        ).fetchall()
    except psycopg.Error:
        return
    print(
        f"statements over the last {events:,} events (execution µs per event and per call; "
        "per call: rows, buffers hit/read/dirtied/written, fpi, WAL)"
    )
    for ms, calls, n, hit, read, dirtied, written, fpi, wal, query in rows:
        c = max(calls, 1)
        print(
            f"  {ms * 1000 / max(events, 1):6.1f} µs/ev {ms * 1000 / c:8.0f} µs/call "
            f"{calls:>7} calls {n / c:7.1f} rows {hit / c:7.1f} {read / c:6.2f} "
            f"{dirtied / c:6.2f} {written / c:6.2f} {fpi / c:5.2f} {wal / c:8,.0f} B  {query}"
        )


INDEX_DEPTHS = """
SELECT format('%%I.%%I', n.nspname, c.relname), pg_relation_size(c.oid),
       (bt_metap(format('%%I.%%I', n.nspname, c.relname))).level
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = c.relam
WHERE c.relkind = 'i' AND am.amname = 'btree' AND pg_relation_size(c.oid) >= %s
  AND n.nspname IN ('billing', 'eventstore', 'eventlog')
ORDER BY pg_relation_size(c.oid) DESC
"""


def _print_index_depths(conn: psycopg.Connection[Any], at_least: int = 1 << 20) -> None:
    """Each B-tree index of at least `at_least` bytes: its size and its levels above the
    leaves (pageinspect's `bt_metap`), so that a descent reads levels + 1 pages."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        rows = conn.execute(INDEX_DEPTHS, (at_least,)).fetchall()
    except psycopg.Error as e:
        conn.rollback()
        print(f"index depths: not read ({type(e).__name__})")
        return
    print("B-tree indexes (size; levels above the leaves):")
    for name, size, level in rows:
        print(f"  {size / (1 << 20):8.1f} MiB  {level}  {name}")


def _print_sizes(conn: psycopg.Connection[Any]) -> None:
    """Bytes per stored domain event and per aggregate snapshot (the latest of each aggregate
    and all written), which do not depend on the machine's load."""
    store = EVENT_STORE_SCHEMA
    n, total, widest = conn.execute(
        f"SELECT count(*), coalesce(sum(octet_length(state)), 0), "
        f"coalesce(max(octet_length(state)), 0) FROM {store}.billing_events"
    ).fetchone() or (0, 0, 0)
    print(f"domain events: {n:,}, state {total / max(n, 1):,.0f} B each (max {widest:,} B)")
    try:
        rows = conn.execute(
            f"SELECT count(*), coalesce(sum(octet_length(state)), 0), "
            f"coalesce(max(octet_length(state)), 0) FROM {store}.billing_snapshots"
        ).fetchone() or (0, 0, 0)
    except psycopg.Error:
        return
    s, s_total, s_widest = rows
    print(
        f"aggregate snapshots written: {s:,}, {s_total / max(s, 1):,.0f} B each "
        f"(max {s_widest:,} B, {s_total / max(n, 1):,.0f} B per domain event)"
    )


def _scalar(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> int:
    row = conn.execute(query, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def stages(dsn: str, count: int) -> None:
    watch = Stopwatch()
    event_log = bootstrap.postgres_event_log(dsn)
    event_log.open()
    parts = bootstrap.pipeline(dsn, event_log, master_key())
    app, processor, projector = parts.app, parts.processor, parts.projector
    _time(watch, "log read", event_log, "read")
    _time(watch, "domain apply", processor, "_apply_event")
    _time(watch, "  of which aggregate loads", app, "load")
    _time(watch, "domain-event write", app.events, "put")
    stop = threading.Event()
    started = time.perf_counter()
    for batch in event_log.follow(processor.processed, stop):
        processor.process(batch)
        if batch[-1].position >= count:
            stop.set()
    processing = time.perf_counter() - started
    _time(watch, "projection: notifications read", app.recorder, "select_notifications")
    started = time.perf_counter()
    while projector.run_once():
        pass
    projecting = time.perf_counter() - started
    parts.close()
    event_log.close()
    print(f"stages (one thread each, sequential): {count} events")
    print(f"  processor total   {processing:7.1f}s  {count / processing:9,.0f} events/s")
    for name in ("log read", "domain apply", "  of which aggregate loads", "domain-event write"):
        seconds = watch.seconds.get(name, 0.0)
        print(f"  {name:<28} {seconds:7.1f}s  {count / seconds if seconds else 0:9,.0f} events/s")
    print(f"  projection total  {projecting:7.1f}s  {count / projecting:9,.0f} events/s")
    seconds = watch.seconds.get("projection: notifications read", 0.0)
    print(f"  projection: notifications read {seconds:7.1f}s")


def _time(watch: Stopwatch, name: str, target: object, method: str) -> None:
    original: Callable[..., Any] = getattr(target, method)

    def timed(*args: Any, **kwargs: Any) -> Any:
        with watch.stage(name):
            return original(*args, **kwargs)

    setattr(target, method, timed)


if __name__ == "__main__":
    raise SystemExit(main())
