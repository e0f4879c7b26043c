"""Rebuild benchmark: `billing-ledger replay` (the read schema from the stored domain events)
for a processed history.

    python -m benchmarks.rebuild [--events 100000]      # --events 1000000 for the 1M history

1. Generates the history (benchmarks/history.py) and COPYs it into the Postgres log of a fresh
   database (not timed).
2. Processes it with the real `billing-ledger process` until every record is applied and every
   domain event projected (benchmarks/processing.py's end-to-end run; its figure is printed).
3. Times `billing-ledger replay` (fresh `billing_rebuild` schema, every projection from domain
   event 1), `--runs` times with `--restart`; reports the median, and domain events per second.
   With `--against SRC` each run is a pair, this tree's replay and SRC's (`PYTHONPATH`, an
   export's `src/`), in turns on the same processed database, and each side gets its median.
   Each run also prints when each projection caught up (its position polled twice a second) and
   how long the end steps took after the last did (MRR's recomputation, the balance check, the
   deferred indexes) until the process exited.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from benchmarks import pgsample
from benchmarks.history import Shape
from benchmarks.infra import cli_env, conditions, loaded_database, postgres_server
from benchmarks.processing import end_to_end
from billing_ledger.processing.application import EVENT_STORE_SCHEMA

REBUILD_SCHEMA = "billing_rebuild"  # replay's default
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Replayed:
    seconds: float
    cpu_replay: float  # user + system seconds of the replay process
    cpu_postgres: float  # of the whole server meanwhile
    caught_up: dict[str, float]  # projection → seconds after the start when it reached the head

    def timeline(self) -> str:
        reached = sorted(self.caught_up.items(), key=lambda item: item[1])
        last = max(self.caught_up.values(), default=0.0)
        return (
            f"{self.seconds:.1f}s: "
            + ", ".join(f"{name} caught up at {at:.1f}s" for name, at in reached)
            + f"; end steps {self.seconds - last:.1f}s"
        )


def _follow_positions(
    dsn: str, started: float, reached: dict[str, float], stop: threading.Event
) -> None:
    """Note when each rebuild projection's position first reaches the log's head, once it was
    seen behind it (until --restart drops it, the previous run's schema is at the head)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT max(notification_id) FROM {EVENT_STORE_SCHEMA}.billing_events"
        ).fetchone()
        head = int(row[0]) if row and row[0] else 0
        behind: set[str] = set()
        while not stop.wait(POLL_SECONDS):
            try:
                rows = conn.execute(
                    f"SELECT projection, position FROM {REBUILD_SCHEMA}.projection_tracking"
                ).fetchall()
            except psycopg.Error:
                continue  # not created yet, or recreated by --restart
            for name, position in rows:
                if position < head:
                    behind.add(name)
                elif name in behind and name not in reached:
                    reached[name] = time.perf_counter() - started


def replay_once(dsn: str, src: Path | None = None) -> Replayed:
    env = cli_env(dsn)
    if src is not None:
        env["PYTHONPATH"] = f"{src.resolve()}:{env.get('PYTHONPATH', '')}".rstrip(":")
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = pgsample.take(conn, 0.0, None)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    reached: dict[str, float] = {}
    stop = threading.Event()
    follower = threading.Thread(target=_follow_positions, args=(dsn, started, reached, stop))
    follower.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "billing_ledger", "replay", "--restart"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        stop.set()
        follower.join()
    elapsed = time.perf_counter() - started
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"replay exited {done.returncode}:\n{done.stderr[-2000:]}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        after = pgsample.take(conn, 0.0, None)
    cpu = (after_children.ru_utime + after_children.ru_stime) - (
        children.ru_utime + children.ru_stime
    )
    return Replayed(elapsed, cpu, after.cpu_postgres - before.cpu_postgres, reached)


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
    parser.add_argument(
        "--against",
        type=Path,
        help="alternate each run with billing-ledger from this source tree (an export's src/)",
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
        trees: list[Path | None] = [None] if args.against is None else [None, args.against]
        runs: dict[Path | None, list[Replayed]] = {tree: [] for tree in trees}
        for n in range(args.runs):
            # Pairs in alternating order, so that a drifting machine favours neither side.
            for tree in trees if n % 2 == 0 else trees[::-1]:
                replayed = replay_once(dsn, tree)
                print(f"  run {n + 1}, {_label(tree)}: {replayed.timeline()}", flush=True)
                runs[tree].append(replayed)
        for tree, done in runs.items():
            print(f"{_label(tree)}: {_summary(done, count, domain_events)}")
    return 0


def _label(tree: Path | None) -> str:
    return "this tree" if tree is None else str(tree)


def _summary(runs: list[Replayed], count: int, domain_events: int) -> str:
    times = [r.seconds for r in runs]
    median = statistics.median(times)
    replay_us = statistics.median(r.cpu_replay for r in runs) / domain_events * 1e6
    postgres_us = statistics.median(r.cpu_postgres for r in runs) / domain_events * 1e6
    return (
        f"billing-ledger replay: {count:,} Stripe events, {domain_events:,} domain events: "
        f"median {median:.1f}s over {len(runs)} runs "
        f"({', '.join(f'{t:.1f}' for t in times)}), {domain_events / median:,.0f} domain "
        "events/s (process startup included); CPU per domain event, median: replay "
        f"{replay_us:.0f} us, PostgreSQL {postgres_us:.0f} us; "
        f"loadavg {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
