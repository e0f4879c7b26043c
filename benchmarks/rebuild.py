"""Rebuild benchmark: `billing-ledger replay` (the read schema from the stored domain events)
for a processed history.

    python -m benchmarks.rebuild [--events 100000]      # --events 1000000 for the 1M history

1. Generates the history (benchmarks/history.py) and COPYs it into the Postgres log of a fresh
   database (not timed).
2. Processes it with the real `billing-ledger process` until every record is applied and every
   domain event projected (benchmarks/processing.py's end-to-end run; its figure is printed).
3. Times `billing-ledger replay` (fresh `billing_rebuild` schema, every projection from domain
   event 1), `--runs` times with `--restart`; reports the median, and domain events per second.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import psycopg

from benchmarks import pgsample
from benchmarks.history import Shape
from benchmarks.infra import cli_env, conditions, loaded_database, postgres_server
from benchmarks.processing import end_to_end
from billing_ledger.processing.application import EVENT_STORE_SCHEMA


@dataclass(frozen=True)
class Replayed:
    seconds: float
    cpu_replay: float  # user + system seconds of the replay process
    cpu_postgres: float  # of the whole server meanwhile


def replay_once(dsn: str) -> Replayed:
    env = cli_env(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = pgsample.take(conn, 0.0, None)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "billing_ledger", "replay", "--restart"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"replay exited {done.returncode}:\n{done.stderr[-2000:]}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        after = pgsample.take(conn, 0.0, None)
    cpu = (after_children.ru_utime + after_children.ru_stime) - (
        children.ru_utime + children.ru_stime
    )
    return Replayed(elapsed, cpu, after.cpu_postgres - before.cpu_postgres)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--keep-log",
        action="store_true",
        help="keep the loaded log as a template database and start from a copy of it",
    )
    args = parser.parse_args()
    shape = Shape(args.seed, max(1, args.events // 50), 24)
    print(f"rebuild benchmark  {conditions()}")
    print(f"history: seed={shape.seed} customers={shape.customers} months={shape.months}")
    with (
        postgres_server() as server,
        loaded_database(server, shape, args.events, args.keep_log) as (dsn, count),
    ):
        end_to_end(dsn, count)
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                f"SELECT count(*) FROM {EVENT_STORE_SCHEMA}.billing_events"
            ).fetchone()
        domain_events = int(row[0]) if row else 0
        runs = [replay_once(dsn) for _ in range(args.runs)]
        times = [r.seconds for r in runs]
        median = statistics.median(times)
        replay_us = statistics.median(r.cpu_replay for r in runs) / domain_events * 1e6
        postgres_us = statistics.median(r.cpu_postgres for r in runs) / domain_events * 1e6
        print(
            f"billing-ledger replay: {count:,} Stripe events, {domain_events:,} domain events: "
            f"median {median:.1f}s over {args.runs} runs "
            f"({', '.join(f'{t:.1f}' for t in times)}), {domain_events / median:,.0f} domain "
            "events/s (process startup included); CPU per domain event, median: replay "
            f"{replay_us:.0f} us, PostgreSQL {postgres_us:.0f} us; "
            f"loadavg {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
