"""Scale-out proof on Kafka: `billing-ledger process` instances sharing one consumer group.

    scripts/scale-out                  100,000 events; a private broker and PostgreSQL
    scripts/scale-out --events 20000

Two instances start on a topic of six partitions while the first part of a seeded history is
published; once they are working, the first is SIGKILLed (its partitions move to the second
when its session times out: one rebalance) and the second part is published; then a third
instance joins (another rebalance) and the rest is published. When every partition's tracked
position is at its end and every domain event is projected, it proves:

- the `billing` tables, MRR and the journal's balances equal those of a clean, in-order
  rebuild of the same events in a fresh database (the same code, `tests/pipeline.py`);
- every (Stripe event, aggregate, part) the rebuild applied was applied once, and nothing
  else: each applied pair is one domain event whatever the order, so the two event stores hold
  the same multiset of pairs, without duplicates (none lost, none applied twice).

tests/e2e/test_scale_out.py runs the same proof small, on the suite's broker and server.

    scripts/scale-out --rates 1,2,3 --events 100000

measures instead what each added instance brings: for each count, a fresh database and topic
holding the whole history before any instance starts, then that many instances in one group,
timed from the moment every one of them holds partitions (startup excluded) until every
record is processed and projected; with the machine's CPU per event (all of it, from
/proc/stat: the instances, PostgreSQL, the broker) and the instances' and PostgreSQL's shares.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import psycopg

from benchmarks.chaos_services import PrivateBroker, PrivateServer, Service, free_port_pair
from benchmarks.history import Shape, bodies
from benchmarks.infra import MASTER_KEY_TEXT, conditions, create_database, load_bodies, master_key
from benchmarks.pgsample import machine_cpu, process_tree_cpu, server_cpu
from billing_ledger import bootstrap as composition
from billing_ledger.eventlog.kafka import KafkaEventLog
from billing_ledger.eventlog.port import EventRecord
from billing_ledger.ingest.sealing import Sealer
from billing_ledger.schemas.envelope import parse_event
from tests.pipeline import Pipeline, read_tables

PARTITIONS = 6
ASSIGNED = re.compile(r"partitions assigned: \[\d")
POLL_SECONDS = 0.2
# Applied (Stripe event, aggregate, part) pairs: every domain event names one.
APPLIED = """
SELECT originator_id::text, convert_from(state, 'UTF8')::jsonb ->> 'stripe_event_id',
       convert_from(state, 'UTF8')::jsonb ->> 'part_id'
FROM eventstore.billing_events
"""


@dataclass
class Outcome:
    events: int
    differences: dict[str, int]
    applied: int  # domain events of the scaled-out run
    expected: int  # domain events of the clean rebuild
    missing: int  # pairs the rebuild applied and the scaled-out run did not
    extra: int  # pairs applied more often than the rebuild applied them, or not at all there
    assignments: dict[str, int] = field(default_factory=dict)  # "partitions assigned" lines
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (sum(self.differences.values()) or self.missing or self.extra) and (
            self.applied == self.expected
        )

    def report(self) -> str:
        diffs = sum(self.differences.values())
        return "\n".join(
            [
                f"events               {self.events} published in three parts",
                "instances            "
                + ", ".join(f"{k}: {v} assignments" for k, v in self.assignments.items()),
                f"domain events        {self.applied} (clean rebuild: {self.expected})",
                f"lost / applied twice {self.missing} / {self.extra}",
                f"differences          {diffs}  "
                + (
                    ", ".join(f"{k}: {v}" for k, v in self.differences.items() if v)
                    or "(every table, MRR, journal balances)"
                ),
                f"scale-out: {'OK' if self.ok else 'FAILED'} in {self.seconds:.1f}s",
            ]
        )


def records(raw: Iterable[bytes], sealer: Sealer) -> list[EventRecord]:
    """The bodies as ingest would have appended them: sealed by `sealer` (under the data keys
    of the instances' database), keyed by customer, so in order per key."""
    received = datetime(2026, 1, 1, tzinfo=UTC)
    found = []
    for body in raw:
        event = parse_event(body)
        record = EventRecord(
            body,
            event.id,
            event.type,
            event.created,
            event.livemode,
            event.account_id,
            event.api_version,
            received,
            event.partition_key,
        )
        found.append(sealer.seal_record(record))
    return found


def publish(log: KafkaEventLog, batch: list[EventRecord], window: int = 500) -> None:
    """Append `batch` durably, `window` appends in flight at a time, in order per key."""

    async def append_all() -> None:
        for start in range(0, len(batch), window):
            await asyncio.gather(*(log.append_async(r) for r in batch[start : start + window]))

    asyncio.run(append_all())


def processed(dsn: str, topic: str) -> int:
    """Records of `topic` whose effects are committed (sum over partitions); 0 before the
    first instance created the store."""
    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT coalesce(sum(notification_id + 1), 0) FROM eventstore.billing_tracking "
                "WHERE application_name LIKE %s",
                (f"{topic}:%",),
            ).fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0


def caught_up(dsn: str, topic: str, total: int) -> bool:
    if processed(dsn, topic) < total:
        return False
    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT (SELECT coalesce(max(notification_id), 0) FROM eventstore.billing_events)"
                " <= (SELECT min(position) FROM billing.projection_tracking)"
            ).fetchone()
    except psycopg.Error:
        return False
    return bool(row and row[0])


def assigned(logs: Path) -> int:
    """How many times an instance was given partitions (rebalances that left it some)."""
    return sum(
        len(ASSIGNED.findall(path.read_text(errors="replace"))) for path in logs.glob("*.log")
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"scale-out: not within {timeout:.0f}s: {what}")


def applied_pairs(dsn: str) -> Counter[tuple[str, str, str]]:
    with psycopg.connect(dsn) as conn:
        return Counter(tuple(row) for row in conn.execute(APPLIED).fetchall())


def differences(live_dsn: str, oracle_dsn: str) -> dict[str, int]:
    """Rows in one and not the other, per table (a multiset difference, both ways)."""
    live, oracle = read_tables(live_dsn), read_tables(oracle_dsn)
    found = {}
    for name in sorted(set(live) | set(oracle)):
        a, b = Counter(map(repr, live.get(name, []))), Counter(map(repr, oracle.get(name, [])))
        found[name] = sum(((a - b) + (b - a)).values())
    return found


def clean_rebuild(oracle_dsn: str, raw: list[bytes]) -> None:
    """The same events, once each, in history order, through the same code."""
    seen: set[str] = set()
    chosen = []
    for body in raw:
        event_id = str(json.loads(body)["id"])
        if event_id not in seen:
            seen.add(event_id)
            chosen.append(body)
    load_bodies(oracle_dsn, chosen)  # sealed under the benchmarks' master key: the pipeline's too
    pipeline = Pipeline(oracle_dsn, master_key())
    try:
        pipeline.process_all()
    finally:
        pipeline.close()


def run(
    dsn: str,
    oracle_dsn: str,
    bootstrap: str,
    raw: list[bytes],
    workdir: Path,
    env: Mapping[str, str],
    timeout: float = 600.0,
) -> Outcome:
    """The whole proof on `dsn` (empty), with `oracle_dsn` (empty) for the clean rebuild."""
    started = time.perf_counter()
    topic, group, service_env = _instance_env(dsn, bootstrap, env)
    log = KafkaEventLog([bootstrap], topic, partitions=PARTITIONS, consumer_group=group)
    log.open()
    all_records = sealed_records(dsn, raw)
    first, second = len(all_records) * 2 // 5, len(all_records) * 7 // 10
    instances = {name: Service("process", service_env, workdir / name) for name in "ABC"}
    for name in instances:
        (workdir / name).mkdir(parents=True, exist_ok=True)
    try:
        publish(log, all_records[:first])
        instances["A"].start()
        instances["B"].start()
        wait_for(
            lambda: assigned(workdir / "A") > 0 and assigned(workdir / "B") > 0,
            timeout,
            "A and B sharing the partitions",
        )
        wait_for(lambda: processed(dsn, topic) >= first // 4, timeout, "A and B at work")
        instances["A"].kill()  # SIGKILL mid-stream: its partitions move when its session ends
        held = assigned(workdir / "B")
        publish(log, all_records[first:second])
        wait_for(lambda: assigned(workdir / "B") > held, timeout, "B given A's partitions")
        held = assigned(workdir / "B")
        instances["C"].start()  # joins the group: the second rebalance
        wait_for(lambda: assigned(workdir / "C") > 0, timeout, "C given partitions")
        wait_for(lambda: assigned(workdir / "B") > held, timeout, "B's share after C joined")
        publish(log, all_records[second:])
        total = len(all_records)
        wait_for(lambda: caught_up(dsn, topic, total), timeout, "everything processed")
    finally:
        for service in instances.values():
            service.stop()
        log.close()
    clean_rebuild(oracle_dsn, raw)
    live, oracle = applied_pairs(dsn), applied_pairs(oracle_dsn)
    return Outcome(
        events=len(all_records),
        differences=differences(dsn, oracle_dsn),
        applied=sum(live.values()),
        expected=sum(oracle.values()),
        missing=sum((oracle - live).values()),
        extra=sum((live - oracle).values()),
        assignments={name: assigned(workdir / name) for name in instances},
        seconds=time.perf_counter() - started,
    )


def _instance_env(
    dsn: str, bootstrap: str, env: Mapping[str, str]
) -> tuple[str, str, dict[str, str]]:
    """A fresh topic and consumer group, and the environment of instances that share them."""
    topic, group = f"scale-out.{uuid4().hex[:12]}", f"scale-out-{uuid4().hex[:12]}"
    return (
        topic,
        group,
        {
            **{
                k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DATABASE_URL"))
            },
            **env,
            "DATABASE_URL": dsn,
            "EVENT_LOG": "kafka",
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_TOPIC": topic,
            "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
            "KAFKA_CONSUMER_GROUP": group,
            "BILLING_LEDGER_MASTER_KEY": MASTER_KEY_TEXT,
            "PYTHONUNBUFFERED": "1",
        },
    )


def sealed_records(dsn: str, raw: Iterable[bytes]) -> list[EventRecord]:
    """`raw` as ingest would have appended them to the log of the instances on `dsn`."""
    with composition.connection_pool(dsn, 2) as pool:
        return records(raw, Sealer(composition.key_store(pool, master_key())))


@dataclass(frozen=True)
class Rate:
    instances: int
    events: int  # processed between the start of the timing and its end
    seconds: float
    cpu_machine: float  # seconds, every process on the machine
    cpu_instances: float  # the instances and their projector children
    cpu_postgres: float

    def report(self) -> str:
        per_event = 1e6 / self.events
        return (
            f"{self.instances} instance(s)  {self.events / self.seconds:7,.0f} events/s "
            f"({self.events:,} in {self.seconds:.1f} s) | CPU µs/event: machine "
            f"{self.cpu_machine * per_event:4.0f}, instances {self.cpu_instances * per_event:4.0f}"
            f", PostgreSQL {self.cpu_postgres * per_event:4.0f}  | load {os.getloadavg()[0]:.1f}"
        )


def rate(
    dsn: str,
    bootstrap: str,
    raw: list[bytes],
    count: int,
    workdir: Path,
    env: Mapping[str, str],
    timeout: float,
) -> Rate:
    """`count` instances working off the whole of `raw`, published before they start."""
    topic, group, service_env = _instance_env(dsn, bootstrap, env)
    log = KafkaEventLog([bootstrap], topic, partitions=PARTITIONS, consumer_group=group)
    log.open()
    try:
        publish(log, sealed_records(dsn, raw))
    finally:
        log.close()
    instances = [Service("process", service_env, workdir / f"{count}-{n}") for n in range(count)]
    for instance in instances:
        instance.logs.mkdir(parents=True, exist_ok=True)

    def cpu() -> tuple[float, float, float]:
        pids = [i.process.pid for i in instances if i.process is not None]
        return machine_cpu(), sum(process_tree_cpu(pid) for pid in pids), server_cpu(dsn)

    try:
        for instance in instances:
            instance.start()
        wait_for(
            lambda: all(assigned(i.logs) > 0 for i in instances),
            timeout,
            f"{count} instance(s) holding partitions",
        )
        started, before, first = time.perf_counter(), cpu(), processed(dsn, topic)
        wait_for(lambda: caught_up(dsn, topic, len(raw)), timeout, "everything processed")
        seconds, after = time.perf_counter() - started, cpu()
    finally:
        for instance in instances:
            instance.stop()
    machine, instances_cpu, postgres = (b - a for a, b in zip(before, after, strict=True))
    return Rate(count, len(raw) - first, seconds, machine, instances_cpu, postgres)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    parser.add_argument(
        "--rates",
        help="instance counts to time, comma-separated (1,2,3): rates instead of the proof",
    )
    args = parser.parse_args()
    print(f"scale-out run  {conditions()}", flush=True)
    home = Path(tempfile.mkdtemp(prefix="billing-ledger-scale-out-"))
    home.chmod(0o755)
    server = PrivateServer(home, free_port_pair())
    broker = PrivateBroker(free_port_pair())
    try:
        broker.remove_data()
        server.start()
        broker.start()
        raw = list(bodies(Shape(args.seed, max(1, args.events // 50), 24), args.events))
        if args.rates:
            for count in (int(n) for n in args.rates.split(",")):
                create_database(server.dsn(), f"rates{count}")
                measured = rate(
                    server.dsn(f"rates{count}"),
                    broker.bootstrap,
                    raw,
                    count,
                    home / "logs",
                    {"BILLING_LEDGER_HOME": str(home / "home")},
                    timeout=3 * 3600,
                )
                print(measured.report(), flush=True)
            return 0
        create_database(server.dsn(), "ledger")
        create_database(server.dsn(), "oracle")
        outcome = run(
            server.dsn("ledger"),
            server.dsn("oracle"),
            broker.bootstrap,
            raw,
            home / "logs",
            {"BILLING_LEDGER_HOME": str(home / "home")},
            timeout=3 * 3600,
        )
        print(outcome.report())
        return 0 if outcome.ok else 1
    finally:
        broker.stop()
        broker.remove_data()
        server.stop()
        if args.keep:
            print(f"logs kept in {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
