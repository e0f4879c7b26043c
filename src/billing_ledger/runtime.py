"""The composition root: builds each process from a Settings object. Nothing connects at import.

up       embedded (or DATABASE_URL) Postgres + ingest + processor + projector
ingest   the HTTP edge alone (appends to the log)
process  the processor and projector alone (follow the log)

The projector runs in a child process of its own: one Python process runs one thread at a time,
and the processor and projector are both busy when a backlog is worked off, so apart they use
two cores. The parent restarts the child if it dies, exports its positions in /metrics, and
stops it (after its current batch) when the workers drain; a child whose parent was killed
stops by itself.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

import psycopg
import uvicorn
from eventsourcing.persistence import PersistenceError
from psycopg_pool import ConnectionPool

from billing_ledger import audit, logs, roles
from billing_ledger.application import EVENT_STORE_SCHEMA, BillingApplication
from billing_ledger.database import (
    application_database_url,
    eventsourcing_env,
    export_libpq_environment,
)
from billing_ledger.eventlog.dead_letters import DeadLetters
from billing_ledger.eventlog.kafka import KafkaEventLog
from billing_ledger.eventlog.port import EventLog
from billing_ledger.eventlog.postgres import PostgresEventLog
from billing_ledger.eventlog.secret_usage import SecretUsage
from billing_ledger.ingest.app import create_app
from billing_ledger.processor import Processor
from billing_ledger.projections.catalog import read_projections
from billing_ledger.projections.migrations import READ_SCHEMA, migrate
from billing_ledger.projections.projector import Projector
from billing_ledger.settings import Settings

log = logging.getLogger(__name__)

SUPERVISE_SECONDS = 1.0
# How long a draining projector may take to finish its batch before it is terminated (its
# transaction then rolls back, and the next start projects that batch again).
DRAIN_SECONDS = 60.0


def open_event_log(settings: Settings, dsn: str) -> EventLog:
    """The configured log of record, opened (tables or topic created if missing)."""
    if settings.EVENT_LOG == "kafka":
        kafka_log = KafkaEventLog(
            settings.kafka_bootstrap_servers(),
            settings.KAFKA_TOPIC,
            partitions=settings.KAFKA_TOPIC_PARTITIONS,
            replication_factor=settings.KAFKA_REPLICATION_FACTOR,
            consumer_group=settings.KAFKA_CONSUMER_GROUP,
            client_options=settings.kafka_client_options(),
        )
        kafka_log.open()
        return kafka_log
    postgres_log = PostgresEventLog(dsn)
    postgres_log.open()
    return postgres_log


@dataclass
class Workers:
    """The processor thread and the projector process, stopped together."""

    processor: Processor
    projector: ProjectorProcess
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        targets = [("processor", self.processor.run), ("projector", self.projector.supervise)]
        for name, target in targets:
            thread = threading.Thread(target=target, args=(self.stop,), name=name, daemon=True)
            thread.start()
            self.threads.append(thread)

    def drain(self) -> None:
        """Stop after the current batches commit their effects and positions."""
        self.stop.set()
        for thread in self.threads:
            thread.join()


class ProjectorProcess:
    """Runs the read schema's projector in a child process, restarting it if it dies."""

    def __init__(self, settings: Settings, dsn: str, projector: Projector) -> None:
        self._settings = settings
        self._dsn = dsn
        self._projector = projector  # this process's view: positions for /metrics
        self._context = multiprocessing.get_context("spawn")

    def supervise(self, stop: threading.Event) -> None:
        """Keep a child projecting until `stop` is set, then stop it after its batch."""
        child_stop = self._context.Event()
        child: BaseProcess | None = None
        try:
            while not stop.is_set():
                if child is None or not child.is_alive():
                    if child is not None:
                        log.error("projector process exited %s; restarting", child.exitcode)
                    child = self._start(child_stop)
                stop.wait(SUPERVISE_SECONDS)
                try:
                    self._projector.report()
                except (PersistenceError, psycopg.Error) as e:
                    log.warning("projector positions unavailable: %s", type(e).__name__)
        finally:
            child_stop.set()
            if child is not None:
                child.join(DRAIN_SECONDS)
                if child.is_alive():
                    log.error("projector process did not stop in %ss; terminating", DRAIN_SECONDS)
                    child.terminate()
                    child.join()

    def _start(self, child_stop: ProcessEvent) -> BaseProcess:
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        child = self._context.Process(
            target=_project_in_child,
            args=(self._settings, self._dsn, level, child_stop),
            name="billing-ledger-projector",
            daemon=True,
        )
        child.start()
        return child


def _project_in_child(settings: Settings, dsn: str, log_level: str, stop: ProcessEvent) -> None:
    """The projector process: project until the parent says stop, or is gone."""
    # SIGINT reaches the whole process group on Ctrl-C: the parent decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logs.configure(settings.LOG_FORMAT, log_level)
    parent = multiprocessing.parent_process()
    if parent is not None:
        watch = threading.Thread(
            target=_stop_when_gone, args=(parent, stop), name="parent-watch", daemon=True
        )
        watch.start()
    with ConnectionPool(dsn, min_size=1, max_size=2, open=True) as pool:
        app = BillingApplication(env=eventsourcing_env(dsn, EVENT_STORE_SCHEMA))
        try:
            Projector(app, pool, READ_SCHEMA, read_projections(READ_SCHEMA)).run(stop)
        finally:
            app.close()


def _stop_when_gone(parent: BaseProcess, stop: ProcessEvent) -> None:
    """A parent killed outright (SIGKILL) cannot drain its child: the child stops itself."""
    multiprocessing.connection.wait([parent.sentinel])
    stop.set()


def prepare_live_schemas(conn: psycopg.Connection[Any]) -> None:
    """The event store's schema, the read schema (migrated) and the audit trail (idempotent)."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {EVENT_STORE_SCHEMA}")
    migrate(conn, READ_SCHEMA)
    audit.create_table(conn)


@contextmanager
def pipeline(settings: Settings, dsn: str, event_log: EventLog) -> Iterator[Workers]:
    """Migrated schemas, the application, and the worker threads (started, drained on exit)."""
    with ExitStack() as stack:
        pool = ConnectionPool(dsn, min_size=1, max_size=4, open=True)
        stack.callback(pool.close)
        with pool.connection() as conn:
            prepare_live_schemas(conn)
        if settings.DATABASE_URL:
            roles.ensure_reader(dsn)
        export_libpq_environment(dsn)
        app = BillingApplication(env=eventsourcing_env(dsn, EVENT_STORE_SCHEMA))
        stack.callback(app.close)
        processor = Processor(app, event_log, pool)
        processor.create_tables()
        projector = Projector(app, pool, READ_SCHEMA, read_projections(READ_SCHEMA))
        projector.create_tables()
        workers = Workers(processor, ProjectorProcess(settings, dsn, projector))
        workers.start()
        stack.callback(workers.drain)
        yield workers


def serve(settings: Settings, event_log: EventLog, dsn: str, announce: Callable[[], None]) -> None:
    """Run the ingest HTTP server until SIGINT/SIGTERM; in-flight requests finish first."""
    pool = ConnectionPool(dsn, min_size=1, max_size=4, open=True)
    try:
        _serve(settings, event_log, pool, announce)
    finally:
        pool.close()


def _serve(
    settings: Settings, event_log: EventLog, pool: ConnectionPool, announce: Callable[[], None]
) -> None:
    dead_letters = DeadLetters(pool)
    dead_letters.create_table()
    secret_usage = SecretUsage(pool)
    secret_usage.create_table()
    app = create_app(
        event_log,
        settings.webhook_secrets(),
        dead_letters=dead_letters,
        secret_usage=secret_usage,
        tolerance_seconds=settings.WEBHOOK_TOLERANCE_SECONDS,
        max_body_bytes=settings.MAX_BODY_BYTES,
        body_read_timeout_seconds=settings.BODY_READ_TIMEOUT_SECONDS,
        stripe_mode=settings.STRIPE_MODE,
    )
    tls = settings.tls_files()
    config = uvicorn.Config(
        app,
        host=settings.HOST,
        port=settings.PORT,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=30,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
        # uvicorn's access log would print client addresses and paths at INFO; our own
        # structured line per webhook says what matters.
        access_log=False,
    )
    server = uvicorn.Server(config)
    original_startup = server.startup

    async def startup(sockets: object = None) -> None:
        await original_startup(sockets=sockets)  # type: ignore[arg-type]
        announce()

    server.startup = startup  # type: ignore[method-assign]
    # uvicorn handles SIGINT/SIGTERM while serving, then re-raises the signal to the handler
    # that was there before; a no-op one lets the caller drain the workers and exit 0.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)
    server.run()


def run_up(settings: Settings) -> None:
    secrets = settings.webhook_secrets()  # fail before starting anything
    del secrets
    with (
        application_database_url(settings) as dsn,
        _closing(open_event_log(settings, dsn)) as event_log,
    ):
        with pipeline(settings, dsn, event_log):
            serve(settings, event_log, dsn, lambda: _announce(settings, dsn))
    print("billing-ledger stopped cleanly", flush=True)


def run_ingest(settings: Settings) -> None:
    settings.webhook_secrets()
    with (
        application_database_url(settings) as dsn,
        _closing(open_event_log(settings, dsn)) as event_log,
    ):
        serve(settings, event_log, dsn, lambda: _announce(settings, dsn))
    print("billing-ledger stopped cleanly", flush=True)


def run_process(settings: Settings) -> None:
    with (
        application_database_url(settings) as dsn,
        _closing(open_event_log(settings, dsn)) as event_log,
    ):
        with pipeline(settings, dsn, event_log) as workers:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: workers.stop.set())
            print(f"billing-ledger processing {_log_description(settings)}", flush=True)
            print(f"  database: {_redact(dsn)}", flush=True)
            workers.stop.wait()
    print("billing-ledger stopped cleanly", flush=True)


@contextmanager
def _closing(event_log: EventLog) -> Iterator[EventLog]:
    try:
        yield event_log
    finally:
        event_log.close()


def _announce(settings: Settings, dsn: str) -> None:
    print(
        f"billing-ledger listening on {_scheme(settings)}://{settings.HOST}:{settings.PORT}"
        "/webhooks/stripe",
        flush=True,
    )
    print(f"  event log: {_log_description(settings)}", flush=True)
    print(f"  database:  {_redact(dsn)}", flush=True)
    print("  Ctrl-C to stop", flush=True)


def _scheme(settings: Settings) -> str:
    return "https" if settings.tls_files() else "http"


def _log_description(settings: Settings) -> str:
    if settings.EVENT_LOG == "kafka":
        return f"kafka topic {settings.KAFKA_TOPIC} at {settings.KAFKA_BOOTSTRAP_SERVERS}"
    return "postgres table eventlog.stripe_events"


def _redact(dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    if not params.get("password"):
        return dsn
    params["password"] = "***"
    return make_conninfo(**params)  # type: ignore[arg-type]
