"""What every benchmark needs: a PostgreSQL server, fresh databases, loading a history into the
Postgres log, and a description of the conditions a figure was measured under."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from benchmarks.history import Shape, bodies
from billing_ledger import bootstrap
from billing_ledger.eventlog.postgres import SCHEMA, TABLE
from billing_ledger.infra.database import database_url
from billing_ledger.infra.master_key import FileMasterKey, MasterKey
from billing_ledger.ingest.sealing import Sealer
from billing_ledger.schemas.envelope import parse_event
from billing_ledger.settings import Settings

DEFAULT_HOME = Path(os.environ.get("BENCH_HOME", "/tmp/billing-ledger-bench"))
# The benchmarks' master key (fixed, so a kept database stays readable between runs); the
# processes they start get it as BILLING_LEDGER_MASTER_KEY.
MASTER_KEY_TEXT = "YmVuY2htYXJrcy1tYXN0ZXIta2V5LW5vdC1zZWNyZXQ="


def master_key() -> MasterKey:
    return FileMasterKey.from_text(MASTER_KEY_TEXT, "the benchmarks' master key")


def cli_env(dsn: str) -> dict[str, str]:
    """The environment of a `billing-ledger` process on `dsn` with the Postgres log."""
    return {
        **os.environ,
        "DATABASE_URL": dsn,
        "EVENT_LOG": "postgres",
        "BILLING_LEDGER_MASTER_KEY": MASTER_KEY_TEXT,
    }


@contextmanager
def postgres_server() -> Iterator[str]:
    """DATABASE_URL if set, else an embedded server under BENCH_HOME (kept between runs)."""
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    settings = Settings(BILLING_LEDGER_HOME=DEFAULT_HOME)
    with database_url(settings) as url:
        if _statement_statistics_loaded(url):
            yield url
            return
    with database_url(settings) as url:  # started again, now preloading them
        yield url


def _statement_statistics_loaded(url: str) -> bool:
    """Whether the embedded server preloads pg_stat_statements; if not, ask it to from its next
    start (`ALTER SYSTEM`: the benchmark's server only, a user's server is left as it is), with
    the I/O timings that the statements then report."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SHOW shared_preload_libraries").fetchone()
        if row and "pg_stat_statements" in str(row[0]):
            return True
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        conn.execute("ALTER SYSTEM SET track_io_timing = on")
        return False


@contextmanager
def fresh_database(server_url: str, template: str | None = None) -> Iterator[str]:
    """A new database on `server_url` (a copy of `template` if given), dropped afterwards."""
    name = f"bench_{uuid4().hex[:12]}"
    create_database(server_url, name, template)
    try:
        yield with_dbname(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_database(server_url: str, name: str, template: str | None = None) -> None:
    # A file copy: the default strategy would write the whole template into the WAL.
    suffix = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"{suffix}')


def with_dbname(server_url: str, name: str) -> str:
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    return make_conninfo(**params)  # type: ignore[arg-type]


@contextmanager
def loaded_database(
    server_url: str, shape: Shape, limit: int, keep: bool
) -> Iterator[tuple[str, int]]:
    """A fresh database whose Postgres log holds the history (its DSN and event count).

    With `keep`, the loaded log is kept on the server as a template database named after the
    history (`benchlog_<seed>_<customers>_<months>_<events>_sealed`, sealed under the
    benchmarks' master key with its data keys beside it, vacuumed and analyzed once, as
    autovacuum leaves a log that ingest filled), and each run starts from a file copy of it:
    the minutes of generating a large history are spent once. Without it, the history is
    generated and COPYed into a new database, whose log autovacuum then visits while the
    benchmark runs.
    """
    if not keep:
        with fresh_database(server_url) as dsn:
            yield dsn, load_log(dsn, shape, limit)
        return
    template = f"benchlog_{shape.seed}_{shape.customers}_{shape.months}_{limit}_sealed"
    with psycopg.connect(server_url, autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,))
        exists = found.fetchone() is not None
    if not exists:
        building = f"{template}_building"
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        create_database(server_url, building)
        dsn = with_dbname(server_url, building)
        load_log(dsn, shape, limit)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM (FREEZE, ANALYZE)")
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
    name = f"bench_{uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    dsn = with_dbname(server_url, name)
    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute(f"SELECT count(*) FROM {SCHEMA}.{TABLE}").fetchone()
        yield dsn, int(row[0]) if row else 0
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_log(dsn: str, shape: Shape, limit: int, *, sealed: bool = True) -> int:
    """COPY the history into the Postgres log table as ingest would have appended it (sealed,
    unless told: as a log written before sealing held it)."""
    return load_bodies(dsn, bodies(shape, limit), sealed=sealed)


def load_bodies(dsn: str, raw: Iterable[bytes], *, sealed: bool = True) -> int:
    """COPY webhook bodies, in the order given, into the Postgres log table of `dsn`."""
    event_log = bootstrap.postgres_event_log(dsn)
    event_log.open()
    event_log.close()
    received = datetime(2026, 1, 1, tzinfo=UTC)
    count = 0
    columns = (
        "event_id, event_type, created, livemode, account, api_version, received_at, "
        "partition_key, body, sealed, data_subject, verified_with"
    )
    with bootstrap.connection_pool(dsn, 2) as pool:
        sealer = Sealer(bootstrap.key_store(pool, master_key()))
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            with cur.copy(f"COPY {SCHEMA}.{TABLE} ({columns}) FROM STDIN") as copy:
                for body in raw:
                    event = parse_event(body)
                    facts, kept, subject = body, None, None
                    if sealed:
                        sealed_event = sealer.seal(event, body)
                        facts, kept = sealed_event.facts, sealed_event.sealed
                        subject = sealed_event.subject
                    copy.write_row(
                        (
                            event.id,
                            event.type,
                            event.created,
                            event.livemode,
                            event.account_id,
                            event.api_version,
                            received,
                            event.partition_key,
                            facts,
                            kept,
                            subject,
                            "benchmark" if sealed else None,
                        )
                    )
                    count += 1
    return count


def conditions() -> str:
    """The machine and moment a figure was measured on."""
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    model = next(
        (line.split(":", 1)[1].strip() for line in cpu.splitlines() if "Model name" in line), "?"
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M}Z  nproc={os.cpu_count()}  cpu={model}  "
        f"python={platform.python_version()}  loadavg={load}"
    )


def peak_rss_mib(pid: int) -> float:
    """The peak resident set size of a running process (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children_peak_rss_mib(pid: int) -> dict[int, float]:
    """The peak RSS of each running child of `pid` (the projector process of `process`)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found[int(entry.name)] = peak_rss_mib(int(entry.name))
        except (OSError, ValueError):
            continue  # gone meanwhile
    return found


class Stopwatch:
    """Accumulates the time spent in named stages."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
