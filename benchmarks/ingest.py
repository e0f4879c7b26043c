"""Ingest benchmark: signed ~3 KB webhooks posted at a fixed concurrency with wrk.

    python -m benchmarks.ingest --duration 30 --concurrency 64 --runs 3

    python -m benchmarks.ingest --targets up,peer --duration 60 --runs 3

Targets, in each run in the order given: `bare`, a bare Starlette endpoint that answers 200
(the ceiling); `postgres`, `billing-ledger ingest` with the Postgres log; `kafka`, the same with
the Kafka log (KAFKA_BOOTSTRAP_SERVERS, default 127.0.0.1:9092, a topic of its own per run);
`ingest`, `billing-ledger ingest` with the Postgres log placed as `up` is (`up` without
processing: what the endpoint does alone on the same cores);
`up`, `billing-ledger up` (the Postgres log, processing what it accepts) on a fresh database,
its lag sampled meanwhile and after the burst until drained (pipeline_lag.py); `peer`,
`@supabase/stripe-sync-engine` (peer.py) on a fresh database of its own. Bodies come from
benchmarks/history.py and are signed when each target starts (Stripe-Signature timestamps must
be within 300 s).

Placement on a 2-core machine: `bare`, `postgres` and `kafka` are pinned to CPU 0 and wrk to
CPU 1 (taskset), so they answer with one process (HTTP_PROCESSES counts the cores a process
may run on); PostgreSQL and the Kafka JVM are not pinned and share both cores. `ingest`, `up`
and `peer` are not pinned (`ingest` and `up` answer with a process per core, `up`'s processor
and projector are processes of their own, and all do their database work on both cores); wrk
is pinned to CPU 1.
Prints accepted events/s (2xx only), p50/p99 latency, the server's CPU time per accepted
request (user + system of the processes answering HTTP, from /proc: the server's and, under
HTTP_PROCESSES, its helpers'; not `up`'s processor and projector children, nor PostgreSQL)
and the ratio to the bare ceiling, or for `peer` in the run, the ratio of `up` to the peer;
with several runs, the median of each figure. For the targets with a database it also prints
PostgreSQL's CPU per accepted request and how busy the machine was during the burst (both
from /proc), and what the target's database sessions were doing meanwhile (session_waits.py).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from uuid import uuid4

import httpx

from benchmarks import peer
from benchmarks.history import Shape, bodies
from benchmarks.infra import MASTER_KEY_TEXT, conditions, fresh_database, postgres_server
from benchmarks.pgsample import machine_cpu, server_cpu
from benchmarks.pipeline_lag import LagReport, LagSampler
from benchmarks.session_waits import SessionWaits
from billing_ledger.ingest.signature import sign
from tests.e2e.cli import free_port
from tests.support.webhooks import SECRET

LUA = Path(__file__).with_name("wrk_bodies.lua")
ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 60
UNPINNED = ("ingest", "up")  # billing-ledger targets answering with a process per core


@dataclass(frozen=True)
class Figures:
    accepted_per_second: float
    p50_ms: float
    p99_ms: float
    refused: int
    cpu_ms_per_request: float = float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30, help="seconds per target")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--bodies", type=int, default=20_000, help="distinct events sent")
    parser.add_argument("--targets", default="bare,postgres,kafka", help="also: ingest, up, peer")
    parser.add_argument(
        "--drain-bound", type=int, default=900, help="seconds `up` may take to drain"
    )
    parser.add_argument(
        "--src",
        type=Path,
        default=None,
        help="run billing-ledger from this source tree (an export's src/, for a before/after)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    print(f"ingest benchmark  {conditions()}")
    print(
        f"wrk -t2 -c{args.concurrency} -d{args.duration}s on CPU 1; bare/postgres/kafka on "
        f"CPU 0, ingest/up/peer not pinned; {args.bodies} distinct bodies"
    )
    documents = list(bodies(Shape(seed=11, customers=max(1, args.bodies // 50)), args.bodies))
    print(f"mean body {sum(map(len, documents)) / len(documents):,.0f} bytes")
    results: dict[str, list[Figures]] = {}
    targets = args.targets.split(",")
    lags: list[LagReport] = []
    ratios: list[float] = []
    with postgres_server() as server:
        for run in range(args.runs):
            for target in targets:
                with serving(target, server, kafka, args.src) as (url, pids, dsn):
                    sampler = LagSampler(dsn) if target == "up" else None
                    sessions = SessionWaits(dsn) if dsn else None
                    before = cpu_seconds(pids())
                    machine_before = machine_cpu()
                    postgres_before = server_cpu(server) if dsn else 0.0
                    started = time.monotonic()
                    if sampler:
                        sampler.start()
                    if sessions:
                        sessions.start()
                    figures = load(url, documents, args.duration, args.concurrency)
                    spent = cpu_seconds(pids()) - before
                    machine_busy = (machine_cpu() - machine_before) / (
                        (time.monotonic() - started) * (os.cpu_count() or 1)
                    )
                    postgres_spent = server_cpu(server) - postgres_before if dsn else None
                    if sessions:
                        sessions.stop()
                    waits = append_waits(url) if target != "peer" else None
                    if sampler:
                        sampler.stop()
                        lags.append(sampler.drain(args.drain_bound))
                accepted = figures.accepted_per_second * args.duration
                figures = replace(figures, cpu_ms_per_request=1000 * spent / max(accepted, 1))
                results.setdefault(target, []).append(figures)
                print(f"run {run + 1} {target:<9} {describe(figures)}", flush=True)
                postgres = (
                    f"PostgreSQL CPU {1000 * postgres_spent / max(accepted, 1):.3f} ms/request; "
                    if postgres_spent is not None
                    else ""
                )
                print(f"      {postgres}machine busy {100 * machine_busy:.0f}%", flush=True)
                if sessions:
                    print(f"      {sessions.describe()}", flush=True)
                if waits:
                    print(f"      {waits}", flush=True)
                if sampler:
                    print(f"      {lags[-1].describe()}", flush=True)
                    print(f"      lag (to process/to project): {lags[-1].timeline()}", flush=True)
            if "up" in targets and "peer" in targets:
                ratios.append(
                    results["up"][-1].accepted_per_second
                    / max(results["peer"][-1].accepted_per_second, 1)
                )
                print(f"run {run + 1} up / peer accepted: {ratios[-1]:.2f}x", flush=True)
    print(f"median of {args.runs} run(s)  loadavg now {_load()}:")
    ceiling = _median(results.get("bare", []))
    for target in targets:
        median = _median(results[target])
        ratio = (
            f"  ratio to bare {median.accepted_per_second / ceiling.accepted_per_second:.2f}"
            if ceiling.accepted_per_second and target != "peer"
            else ""
        )
        print(f"  {target:<9} {describe(median)}{ratio}")
    if ratios:
        print(
            f"  up / peer accepted, per run: {', '.join(f'{r:.2f}x' for r in ratios)}; "
            f"median {statistics.median(ratios):.2f}x"
        )
    if lags:
        drains = [lag.drain_seconds for lag in lags if lag.drain_seconds is not None]
        ends = [lag.at_burst_end for lag in lags]
        backlog = [e.to_process + e.to_project for e in ends if e is not None]
        print(
            f"  up lag at burst end (to process + to project), median "
            f"{statistics.median(backlog) if backlog else float('nan'):,.0f}; drain median "
            f"{statistics.median(drains) if drains else float('nan'):.0f} s "
            f"({len(drains)} of {len(lags)} drained within {args.drain_bound} s)"
        )
    return 0


APPEND_BUCKET = re.compile(r'^billing_ledger_append_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.M)
APPEND_TOTAL = re.compile(r"^billing_ledger_append_seconds_(sum|count) (\S+)$", re.M)


def append_waits(url: str) -> str | None:
    """How long this run's requests waited for the log's durable acknowledgement, from the
    server's own histogram (/metrics): the mean, and the bucket that holds the 99th
    percentile; None where the target does not count it (bare)."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    totals = {name: float(value) for name, value in APPEND_TOTAL.findall(text)}
    count = totals.get("count", 0.0)
    if not count:
        return None
    buckets = [(float(le), float(n)) for le, n in APPEND_BUCKET.findall(text)]
    p99 = next((le for le, n in buckets if n >= 0.99 * count), float("inf"))
    return (
        f"append wait (the server's histogram): mean {1000 * totals['sum'] / count:.1f} ms, "
        f"p99 ≤ {1000 * p99:.0f} ms over {count:,.0f} appends"
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def describe(f: Figures) -> str:
    return (
        f"{f.accepted_per_second:8,.0f} accepted/s  p50 {f.p50_ms:6.1f} ms  "
        f"p99 {f.p99_ms:6.1f} ms  refused {f.refused}  "
        f"server CPU {f.cpu_ms_per_request:.3f} ms/request"
    )


def _median(figures: list[Figures]) -> Figures:
    if not figures:
        return Figures(0, 0, 0, 0)
    return Figures(
        statistics.median(f.accepted_per_second for f in figures),
        statistics.median(f.p50_ms for f in figures),
        statistics.median(f.p99_ms for f in figures),
        int(statistics.median(f.refused for f in figures)),
        statistics.median(f.cpu_ms_per_request for f in figures),
    )


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes so far (Linux /proc), all their threads."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _serving_pids(pid: int, logs: Path) -> Callable[[], list[int]]:
    """The server's process and the helpers answering on its socket (HTTP_PROCESSES), as its
    log names them: the processes whose CPU a request costs."""

    def pids() -> list[int]:
        helpers = re.findall(r"http-\d+ process (\d+) started", logs.read_text(errors="replace"))
        return [pid, *map(int, helpers)]

    return pids


@contextmanager
def serving(
    target: str, server_url: str, kafka: str, src: Path | None = None
) -> Iterator[tuple[str, Callable[[], list[int]], str]]:
    """Start the target (billing-ledger from `src` if given); yield its base URL, what gives
    the ids of its serving processes, and its database; stop it."""
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir, _database(target, server_url) as dsn:
        pinned = ["taskset", "-c", "0"]
        if target == "bare":
            command = [*pinned, sys.executable, "-m", "benchmarks.bare_app", str(port)]
            env = dict(os.environ)
        elif target == "peer":
            command = peer.command()
            env = peer.environment(peer.installed(), dsn, port, SECRET)
        else:
            command = [sys.executable, "-m", "billing_ledger", "up" if target == "up" else "ingest"]
            if target not in UNPINNED:
                command = [*pinned, *command]
            env = {
                **os.environ,
                "STRIPE_WEBHOOK_SECRETS": SECRET,
                "PORT": str(port),
                "DATABASE_URL": dsn,
                "BILLING_LEDGER_MASTER_KEY": MASTER_KEY_TEXT,
                "BILLING_LEDGER_HOME": workdir,
                "EVENT_LOG": "kafka" if target == "kafka" else "postgres",
                "KAFKA_BOOTSTRAP_SERVERS": kafka,
                "KAFKA_TOPIC": f"bench.stripe.events.{uuid4().hex[:8]}",
            }
            env.pop("STRIPE_API_KEY", None)
        env["PYTHONPATH"] = f"{src.resolve()}:{ROOT}" if src else str(ROOT)
        logs = Path(workdir, "server.log")
        with logs.open("wb") as sink:
            process = subprocess.Popen(
                command, env=env, cwd=workdir, stdout=sink, stderr=subprocess.STDOUT
            )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(process, url, logs)
            yield url, _serving_pids(process.pid, logs), dsn  # taskset execs: same process
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=120)


@contextmanager
def _database(target: str, server_url: str) -> Iterator[str]:
    if target == "bare":
        yield ""
        return
    with fresh_database(server_url) as dsn:
        yield dsn


def _wait_ready(process: subprocess.Popen[bytes], url: str, logs: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = logs.read_text(errors="replace")[-2000:]
            raise SystemExit(f"server exited with {process.returncode}:\n{tail}")
        try:
            httpx.post(f"{url}/webhooks/stripe", content=b"{}", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def load(url: str, documents: list[bytes], duration: int, concurrency: int) -> Figures:
    """Sign every body now, then let wrk post them for `duration` seconds."""
    now = int(time.time())
    with tempfile.NamedTemporaryFile("wb", suffix=".tsv", delete=False) as sink:
        for body in documents:
            sink.write(sign(body, SECRET, now).encode() + b"\t" + body + b"\n")
    try:
        output = subprocess.run(
            [
                "taskset",
                "-c",
                "1",
                "wrk",
                "-t2",
                f"-c{concurrency}",
                f"-d{duration}s",
                "--latency",
                "--timeout",
                "10s",
                "-s",
                str(LUA),
                url,
            ],
            env={**os.environ, "BODIES": sink.name},
            capture_output=True,
            text=True,
            check=True,
            timeout=duration + 120,
        ).stdout
    finally:
        os.unlink(sink.name)
    return _parse(output, duration)


def _parse(output: str, duration: int) -> Figures:
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    seconds = re.search(r"requests in ([\d.]+)(m?s)", output)
    elapsed = float(seconds.group(1)) if seconds else float(duration)
    if seconds and seconds.group(2) == "ms":
        elapsed /= 1000
    refused_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: .*timeout (\d+)", output)
    refused = int(refused_match.group(1)) if refused_match else 0
    refused += int(errors.group(1)) if errors else 0
    return Figures(
        (total - refused) / elapsed,
        _latency(output, "50%"),
        _latency(output, "99%"),
        refused,
    )


def _latency(output: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


if __name__ == "__main__":
    raise SystemExit(main())
