"""Sealing benchmark: what crypto-shredding costs on ingest and on processing.

    python -m benchmarks.sealing --events 20000

1. Ingest: seals N generated webhook bodies (benchmarks/history.py) as ingest does (facts with
   tokens, the raw body under the customer's key), in this process, one thread: first with
   every customer new (each key created: one transaction), then again with the keys known
   (the steady state, keys in memory). Reports µs of CPU-bound work per event.
2. Processing: loads the same history into two fresh databases' Postgres logs, once as a log
   written before sealing held it (raw bodies) and once sealed, then runs the processor and
   the projector over each in this process, one after the other; reports events/s of each
   stage for both logs and the ratio.
"""

from __future__ import annotations

import argparse
import threading
import time

from benchmarks.history import Shape, bodies
from benchmarks.infra import conditions, fresh_database, load_log, master_key, postgres_server
from billing_ledger import bootstrap
from billing_ledger.schemas.envelope import parse_event


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=None, help="default: events / 50")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-processing", action="store_true")
    args = parser.parse_args()
    shape = Shape(seed=args.seed, customers=args.customers or max(args.events // 50, 1))
    print(conditions())
    with postgres_server() as server:
        sealing(server, shape, args.events)
        if not args.skip_processing:
            processing(server, shape, args.events)
    return 0


def sealing(server: str, shape: Shape, count: int) -> None:
    raw = list(bodies(shape, count))
    events = [parse_event(body) for body in raw]
    sizes = sum(len(body) for body in raw) / len(raw)
    with fresh_database(server) as dsn, bootstrap.connection_pool(dsn, 2) as pool:
        sealer = bootstrap.sealer(pool, master_key())
        for label in ("new customers (keys created)", "known customers (steady state)"):
            facts = 0
            started = time.perf_counter()
            for event, body in zip(events, raw, strict=True):
                facts += len(sealer.seal(event, body).facts)
            seconds = time.perf_counter() - started
            print(
                f"ingest sealing, {label}: {seconds / count * 1e6:6.1f} µs/event "
                f"({count} events, body {sizes:,.0f} B -> facts {facts / count:,.0f} B)"
            )


def processing(server: str, shape: Shape, count: int) -> None:
    results = {}
    for sealed in (False, True):
        with fresh_database(server) as dsn:
            load_log(dsn, shape, count, sealed=sealed)
            results[sealed] = _process(dsn, count)
    for stage, index in (("processor", 0), ("projector", 1)):
        plain, sealed_rate = (count / results[False][index], count / results[True][index])
        print(
            f"{stage}: unsealed log {plain:7,.0f} events/s, sealed log {sealed_rate:7,.0f} "
            f"events/s ({sealed_rate / plain - 1:+.0%})"
        )


def _process(dsn: str, count: int) -> tuple[float, float]:
    event_log = bootstrap.postgres_event_log(dsn)
    event_log.open()
    parts = bootstrap.pipeline(dsn, event_log, master_key())
    try:
        stop = threading.Event()
        started = time.perf_counter()
        for batch in event_log.follow(parts.processor.processed, stop):
            parts.processor.process(batch)
            if batch[-1].position >= count:
                stop.set()
        processing = time.perf_counter() - started
        started = time.perf_counter()
        while parts.projector.run_once():
            pass
        return processing, time.perf_counter() - started
    finally:
        parts.close()
        event_log.close()


if __name__ == "__main__":
    raise SystemExit(main())
