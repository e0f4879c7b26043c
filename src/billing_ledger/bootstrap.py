"""The composition root: the one place that builds a process's objects from its settings.

Connection pools, the eventsourcing application, the log of record, the master key and the
data keys, the processor, the projector and the ingest app are made here and nowhere else;
`cli/`, tests and benchmarks get theirs from these functions. Nothing connects at import time.

    up       database (embedded unless DATABASE_URL) + ingest, /api/v1 and the customer
             pages + processor + projector
    ingest   the HTTP edge alone (appends to the log), /api/v1 and the customer pages
    process  the processor and projector alone (follow the log)

`memory_processing` builds the processor on the in-memory adapters instead (log, store and
dead letters in this process, no server), for unit tests.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from psycopg_pool import ConnectionPool
from starlette.applications import Starlette
from starlette.types import ASGIApp

from billing_ledger.errors import ConfigurationError
from billing_ledger.eventlog.dead_letters import DeadLetters
from billing_ledger.eventlog.kafka import KafkaEventLog
from billing_ledger.eventlog.memory import MemoryEventLog
from billing_ledger.eventlog.memory_dead_letters import MemoryDeadLetters
from billing_ledger.eventlog.port import FETCHED, EventLog, LogUnavailable
from billing_ledger.eventlog.postgres import PostgresEventLog
from billing_ledger.eventlog.secret_usage import SecretUsage
from billing_ledger.infra import audit, heap, keys, logs, roles, session_priority
from billing_ledger.infra.database import (
    database_url,
    eventsourcing_env,
    export_libpq_environment,
)
from billing_ledger.infra.keys import KeyStore
from billing_ledger.infra.master_key import EMBEDDED_FILE, FileMasterKey, MasterKey, create_file
from billing_ledger.infra.metrics import (
    APPEND_SECONDS,
    EVENTS_PROCESSED,
    UNHANDLED_EVENT_TYPES,
    WEBHOOKS_ACCEPTED,
    WEBHOOKS_REJECTED,
)
from billing_ledger.infra.supervision import ChildProcess, Work, Workers
from billing_ledger.ingest.app import create_app
from billing_ledger.ingest.sealing import Sealer
from billing_ledger.ingest.server import serve_until
from billing_ledger.processing.application import EVENT_STORE_SCHEMA, BillingApplication
from billing_ledger.processing.processor import Processor
from billing_ledger.projections import mrr_clock, rebuild
from billing_ledger.projections.catalog import read_projections
from billing_ledger.projections.migrations import READ_SCHEMA, migrate
from billing_ledger.projections.projector import Projector
from billing_ledger.settings import Settings
from billing_ledger.stripe_api.accounts import known_accounts
from billing_ledger.stripe_api.client import StripeApi, StripeGateway
from billing_ledger.stripe_api.commands import CommandRecord
from billing_ledger.stripe_api.customers import CustomerService
from billing_ledger.stripe_api.fetched import Appender
from billing_ledger.stripe_api.intents import PageLinks
from billing_ledger.stripe_api.paging import Lister
from billing_ledger.stripe_api.payments import PaymentService
from billing_ledger.stripe_api.reconcile import PostgresRuns, Reconciler
from billing_ledger.stripe_api.schedule import ReconcileSchedule
from billing_ledger.stripe_api.subscriptions import SubscriptionService
from billing_ledger.web.api import ApiParts, create_api
from billing_ledger.web.dashboard.app import DashboardParts, create_dashboard, dashboard_sessions
from billing_ledger.web.dashboard.figures import DashboardReads
from billing_ledger.web.endpoints import Services
from billing_ledger.web.finance_reads import FinanceReads
from billing_ledger.web.mount import metrics_from, with_api, with_pages
from billing_ledger.web.pages.app import PREFIXES, PageParts, create_pages
from billing_ledger.web.pages.links import LinkSigner, SignedPageLinks
from billing_ledger.web.pages.methods import SavedMethods
from billing_ledger.web.pages.overview import CustomerBilling
from billing_ledger.web.pages.pay_links import PayLinks
from billing_ledger.web.pages.theme import Theme
from billing_ledger.web.reads import Reads
from billing_ledger.web.tokens import ApiToken, TokenStore

log = logging.getLogger(__name__)

POOL_SIZE = 4
# How much lower than ingest's the workers' priority is under `up` (see running_pipeline).
WORKER_NICENESS = 10
# How long the processor's process waits before trying an unavailable log again.
LOG_RETRY_SECONDS = 2.0
# What the processor counts, shown by the /metrics of `up` although it runs in a child there.
PROCESSOR_METRICS = (EVENTS_PROCESSED, UNHANDLED_EVENT_TYPES)
WEBHOOK_METRICS = (WEBHOOKS_ACCEPTED, WEBHOOKS_REJECTED, APPEND_SECONDS)
# How long the first serving process waits for its helpers to be ready before it serves alone.
HELPERS_READY_SECONDS = 60.0
READY_POLL_SECONDS = 0.02
# Advisory lock held while a process creates its schemas and tables: `CREATE ... IF NOT
# EXISTS` is not safe against a concurrent creator (two `process` instances of one consumer
# group starting together failed on pg_namespace's unique index).
SETUP_LOCK_KEY = 0x5345_5455  # "SETU"


def connection_pool(
    dsn: str, max_size: int = POOL_SIZE, *, open: bool = True, timeout: float = 30.0
) -> ConnectionPool:
    """A pool of connections to `dsn` (opened, unless the owner opens it later)."""
    return ConnectionPool(dsn, min_size=1, max_size=max_size, open=open, timeout=timeout)


# --- the database --------------------------------------------------------------------------


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The DSN the processes use: DATABASE_URL, or the embedded server (run for the duration)
    as the application's own role.

    The embedded server trusts local connections as the `postgres` superuser; the processes
    connect as `billing_ledger_app` instead, created here with the reader role, so that what
    any command creates is the application's. A one-off command shares the server a running
    `up` serves, or starts it for its own duration.
    """
    with database_url(settings) as dsn:
        yield dsn if settings.DATABASE_URL else app_role_dsn(dsn)


def app_role_dsn(superuser_dsn: str) -> str:
    """Create the log of record's table as the superuser (so the app role may only read and
    append it), then both roles and their grants; the DSN of the app role. Idempotent."""
    created_here = postgres_event_log(superuser_dsn)
    created_here.open()
    created_here.close()
    return roles.create_roles(superuser_dsn)


@contextmanager
def setting_up(pool: ConnectionPool) -> Iterator[None]:
    """Hold the setup lock of the database for the duration (other processes wait)."""
    with pool.connection() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))


def prepare_live_schemas(conn: psycopg.Connection[Any]) -> None:
    """The event store's schema, the read schema (migrated) and the audit trail (idempotent)."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {EVENT_STORE_SCHEMA}")
    migrate(conn, READ_SCHEMA)
    audit.create_table(conn)


# --- the keys of personal data --------------------------------------------------------------

NO_MASTER_KEY = (
    "DATABASE_URL is set but no master key: set BILLING_LEDGER_MASTER_KEY or "
    "BILLING_LEDGER_MASTER_KEY_FILE (a new one: `billing-ledger keys generate`)"
)


def master_key(settings: Settings, dsn: str) -> MasterKey:
    """The master key of the data keys on `dsn`, checked against them (one clear line if it is
    the wrong one). BILLING_LEDGER_MASTER_KEY(_FILE) when set; with DATABASE_URL it must be.
    The embedded default keeps it in BILLING_LEDGER_HOME/master.key, created on first start
    unless data keys exist already (then the missing file is an error: a new key would
    make every person's data unreadable)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        keys.create_tables(conn)
        configured = settings.master_key_text()
        master: MasterKey
        if configured is not None:
            text, origin = configured
            master = FileMasterKey.from_text(text, origin)
        elif settings.DATABASE_URL:
            raise ConfigurationError(NO_MASTER_KEY)
        else:
            path = embedded_master_key_path(settings)
            origin = str(path)
            if path.exists():
                master = FileMasterKey.from_file(path, origin)
            elif count := keys.count_live(conn):
                raise ConfigurationError(
                    f"the master key {path} is missing and {count} data key(s) exist: restore "
                    "it (or set BILLING_LEDGER_MASTER_KEY_FILE to it); no personal data can be "
                    "read without it"
                )
            else:
                master = _create_master_key(path)
        keys.check_master(conn, master, origin)
    return master


def embedded_master_key_path(settings: Settings) -> Path:
    return settings.BILLING_LEDGER_HOME.expanduser().resolve() / EMBEDDED_FILE


def _create_master_key(path: Path) -> MasterKey:
    try:
        return create_file(path)
    except FileExistsError:  # another process of the same home created it first
        return FileMasterKey.from_file(path, str(path))


def key_store(pool: ConnectionPool, master: MasterKey) -> KeyStore:
    """The data keys on `pool`, unwrapped by `master` (their tables created if missing)."""
    with pool.connection() as conn:
        keys.create_tables(conn)
    return KeyStore(pool, master)


def sealer(pool: ConnectionPool, master: MasterKey) -> Sealer:
    """What seals verified events under the data keys on `pool`, as ingest stores them,
    following erasures made elsewhere (a thread, stopped with the process)."""
    store = key_store(pool, master)
    store.watch_erasures()
    return Sealer(store)


# --- the log of record ---------------------------------------------------------------------


def postgres_event_log(dsn: str, pool_size: int = 8) -> PostgresEventLog:
    """The Postgres log of record on `dsn`, not yet opened."""
    return PostgresEventLog(connection_pool(dsn, pool_size, open=False, timeout=5.0))


def open_event_log(settings: Settings, dsn: str) -> EventLog:
    """The configured log of record, opened (tables or topic created if missing)."""
    event_log: EventLog
    if settings.EVENT_LOG == "kafka":
        event_log = kafka_event_log(settings, settings.KAFKA_TOPIC)
    else:
        event_log = postgres_event_log(dsn)
    try:
        event_log.open()
    except BaseException:
        event_log.close()  # its pool or clients, whatever opening got to
        raise
    return event_log


def kafka_event_log(settings: Settings, topic: str) -> KafkaEventLog:
    """The Kafka log of record on `topic` (KAFKA_TOPIC, or another during a migration), not
    yet opened."""
    return KafkaEventLog(
        settings.kafka_bootstrap_servers(),
        topic,
        partitions=settings.KAFKA_TOPIC_PARTITIONS,
        replication_factor=settings.KAFKA_REPLICATION_FACTOR,
        consumer_group=settings.KAFKA_CONSUMER_GROUP,
        client_options=settings.kafka_client_options(),
        timeout=settings.EVENT_LOG_TIMEOUT_SECONDS,
    )


@contextmanager
def opened_event_log(settings: Settings, dsn: str) -> Iterator[EventLog]:
    """`open_event_log`, closed on exit."""
    event_log = open_event_log(settings, dsn)
    try:
        yield event_log
    finally:
        event_log.close()


# --- processing and projection -------------------------------------------------------------


def application(dsn: str, schema: str = EVENT_STORE_SCHEMA) -> BillingApplication:
    """The eventsourcing application on the event store in `schema` of `dsn`."""
    export_libpq_environment(dsn)
    return BillingApplication(env=eventsourcing_env(dsn, schema))


def set_up_application(pool: ConnectionPool, dsn: str) -> BillingApplication:
    """The live application, made under the setup lock: making one creates or replaces the
    event store's tables and functions, and two processes doing that at once (the processor's
    and the projector's under `up`) fail with "tuple concurrently updated"."""
    with setting_up(pool):
        return application(dsn)


def memory_application() -> BillingApplication:
    """The eventsourcing application on the library's in-memory store (`eventsourcing.popo`:
    process recorder and tracking included); nothing survives the process."""
    return BillingApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def processor(app: BillingApplication, event_log: EventLog, pool: ConnectionPool) -> Processor:
    """The processor of `event_log` into `app`, dead-lettering into the table on `pool`
    (created if missing)."""
    dead_letters = DeadLetters(pool)
    dead_letters.create_table()
    return Processor(app, event_log, dead_letters)


def projector(
    app: BillingApplication, pool: ConnectionPool, master: MasterKey, schema: str = READ_SCHEMA
) -> Projector:
    """Every projection of the read schema `schema`, fed by `app`'s domain events, showing
    personal values with the data keys `master` unwraps."""
    built = Projector(app, pool, schema, read_projections(schema, key_store(pool, master)))
    built.create_tables()
    return built


@dataclass
class MemoryProcessing:
    """The processor on in-memory adapters, with them, for a test to fill and inspect."""

    app: BillingApplication
    event_log: MemoryEventLog
    dead_letters: MemoryDeadLetters
    processor: Processor


def memory_processing(app: BillingApplication | None = None) -> MemoryProcessing:
    """A processor of a new in-memory log into `app` (by default a new in-memory application;
    given one, a second processor of the same store), dead-lettering in memory."""
    app = app if app is not None else memory_application()
    event_log, dead_letters = MemoryEventLog(), MemoryDeadLetters()
    return MemoryProcessing(app, event_log, dead_letters, Processor(app, event_log, dead_letters))


@dataclass
class Pipeline:
    """The processing side on one database: the log is followed into the aggregates, whose
    domain events are projected into the read schema."""

    dsn: str
    pool: ConnectionPool
    app: BillingApplication
    event_log: EventLog
    processor: Processor
    projector: Projector

    def close(self) -> None:
        """Close what this pipeline opened (the event log belongs to its caller)."""
        self.app.close()
        self.pool.close()


def pipeline(
    dsn: str, event_log: EventLog, master: MasterKey, *, grant_reader: bool = False
) -> Pipeline:
    """Migrated live schemas, the application, the processor and the projector on `dsn`.

    `grant_reader` (with DATABASE_URL) creates and grants `billing_reader` where the role may.
    """
    pool = connection_pool(dsn)
    app: BillingApplication | None = None
    try:
        with setting_up(pool):
            with pool.connection() as conn:
                prepare_live_schemas(conn)
            if grant_reader:
                roles.ensure_reader(dsn)
            app = application(dsn)
            return Pipeline(
                dsn,
                pool,
                app,
                event_log,
                processor(app, event_log, pool),
                projector(app, pool, master),
            )
    except BaseException:
        if app is not None:
            app.close()
        pool.close()
        raise


@contextmanager
def running_pipeline(
    settings: Settings, dsn: str, event_log: EventLog, *, yield_to_ingest: bool = False
) -> Iterator[Workers]:
    """The pipeline at work: the processor in a thread, the projector in a child process
    (restarted if it dies); drained, then closed, on exit.

    `yield_to_ingest` (`up`, where the webhook endpoint shares the machine): the processor
    runs in a child process of its own too, and both children at a lower priority
    (WORKER_NICENESS), so that during a burst the cores go to answering Stripe first; the log
    holds what the workers have not reached yet, and they catch up when the burst ends. A
    processor thread would share ingest's interpreter lock: whenever the scheduler paused it
    (all the more for being niced) while it held the lock, the webhook endpoint waited too."""
    master = master_key(settings, dsn)
    parts = pipeline(dsn, event_log, master, grant_reader=bool(settings.DATABASE_URL))
    niceness = WORKER_NICENESS if yield_to_ingest else 0
    try:
        with parts.pool.connection() as conn:
            mrr_clock.adopt_definition(conn, READ_SCHEMA, settings.mrr_definition())
        child = ChildProcess(
            "projector",
            project_in_child,
            settings,
            (dsn, niceness),
            lambda: _report(parts.projector),
        )
        work: dict[str, Work] = {"processor": parts.processor.run, "projector": child.supervise}
        if yield_to_ingest:
            work["processor"] = ChildProcess(
                "processor",
                process_in_child,
                settings,
                (dsn, niceness),
                lambda: None,
                mirrored=PROCESSOR_METRICS,
            ).supervise
        workers = Workers(work)
        heap.settle()
        try:
            workers.start()
            yield workers
        finally:
            workers.drain()
    finally:
        parts.close()


def process_in_child(settings: Settings, dsn: str, niceness: int, stop: ProcessEvent) -> None:
    """The processor process (`up`): follow the log of record until `stop` is set, waiting
    out a log that does not answer yet (a broker down when the child starts), as the thread
    it replaces waited out outages."""
    lower_priority(niceness)
    yield_sessions(dsn, "processor", niceness, stop)
    event_log = _open_when_available(settings, dsn, stop)
    if event_log is None:
        return
    try:
        with connection_pool(dsn, 2) as pool:
            app = set_up_application(pool, dsn)
            try:
                worker = processor(app, event_log, pool)
                heap.settle()
                worker.run(stop)  # type: ignore[arg-type]
            finally:
                app.close()
    finally:
        event_log.close()


def _open_when_available(settings: Settings, dsn: str, stop: ProcessEvent) -> EventLog | None:
    while not stop.is_set():
        try:
            return open_event_log(settings, dsn)
        except LogUnavailable as e:
            log.warning("processor waiting for the event log: %s", type(e).__name__)
            stop.wait(LOG_RETRY_SECONDS)
    return None


def project_in_child(settings: Settings, dsn: str, niceness: int, stop: ProcessEvent) -> None:
    """The projector process: project the live read schema until `stop` is set."""
    lower_priority(niceness)
    yield_sessions(dsn, "projector", niceness, stop)
    master = master_key(settings, dsn)
    with connection_pool(dsn, 2) as pool:
        app = set_up_application(pool, dsn)
        try:
            worker = projector(app, pool, master)
            heap.settle()
            worker.run(stop)
        finally:
            app.close()


def rebuild_group(
    settings: Settings,
    dsn: str,
    store: str,
    schema: str,
    names: tuple[str, ...],
    log_level: str,
    progress: Callable[[int], None],
) -> None:
    """A process of `replay` (rebuild_groups.py): catch the projections `names` of the
    rebuild schema `schema` up with the domain events of the event store in `store`."""
    logs.configure(settings.LOG_FORMAT, log_level, secrets=settings.secret_values())
    master = master_key(settings, dsn)
    with connection_pool(dsn, 2) as pool:
        with setting_up(pool):  # making an application replaces the store's functions
            app = application(dsn, store)
        try:
            found = rebuild.projector(app, pool, schema, key_store(pool, master), names)
            heap.settle()
            rebuild.catch_up(found, progress)
        finally:
            app.close()


def yield_sessions(dsn: str, worker: str, niceness: int, stop: ProcessEvent) -> None:
    """This worker process's database sessions niced as it is, when the server is on this
    machine (infra/session_priority.py); called before the process connects."""
    if niceness <= 0:
        return
    name = f"billing-ledger-{worker}"
    session_priority.name_sessions(name)
    session_priority.in_background(dsn, name, niceness, stop)


def lower_priority(niceness: int) -> None:
    """Lower the calling thread's scheduling priority by `niceness` (Linux schedules threads
    on their own; elsewhere, where a thread id is no process id, nothing changes)."""
    if niceness <= 0:
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + niceness)
    except OSError:
        log.warning("worker priority unchanged: %s", sys.platform)


def _report(projector_: Projector) -> None:
    """The parent's copy of the child projector's positions and lag, for /metrics."""
    try:
        projector_.report()
    except (PersistenceError, psycopg.Error) as e:
        log.warning("projector positions unavailable: %s", type(e).__name__)


# --- the webhook edge ----------------------------------------------------------------------


def ingest_app(
    settings: Settings, event_log: EventLog, pool: ConnectionPool, master: MasterKey
) -> Starlette:
    """The webhook endpoint around `event_log`, with its dead-letter and secret-usage tables,
    sealing each event under the data keys `master` unwraps."""
    dead_letters = DeadLetters(pool)
    secret_usage = SecretUsage(pool)
    with setting_up(pool):
        dead_letters.create_table()
        secret_usage.create_table()
    recorder: SecretUsage | None = secret_usage
    if isinstance(event_log, PostgresEventLog):
        # Counted in each append's own transaction: no write, thread hop or commit of its own.
        event_log.count_secret_usage()
        recorder = None
    return create_app(
        event_log,
        settings.webhook_secrets(),
        dead_letters=dead_letters,
        secret_usage=recorder,
        sealer=sealer(pool, master),
        tolerance_seconds=settings.WEBHOOK_TOLERANCE_SECONDS,
        max_body_bytes=settings.MAX_BODY_BYTES,
        body_read_timeout_seconds=settings.BODY_READ_TIMEOUT_SECONDS,
        stripe_mode=settings.STRIPE_MODE,
        log_timeout_seconds=settings.EVENT_LOG_TIMEOUT_SECONDS,
    )


# --- the write side: Stripe, commands, the HTTP API ------------------------------------------


API_POOL_SIZE = 12


def api_pool(dsn: str) -> ConnectionPool:
    """Autocommit connections for the command record, tokens and reads (not yet opened).

    A command holds one connection while Stripe answers (its key's lock lives on it), so the
    pool is sized for concurrent commands, not for queries.
    """
    return ConnectionPool(
        dsn,
        min_size=1,
        max_size=API_POOL_SIZE,
        open=False,
        timeout=30.0,
        kwargs={"autocommit": True},
    )


def stripe_gateway(settings: Settings) -> StripeGateway | None:
    """The Stripe client for STRIPE_API_KEY (at STRIPE_API_BASE), or None without a key."""
    key = settings.stripe_api_key()
    if key is None:
        return None
    return StripeGateway(key, api_base=settings.STRIPE_API_BASE)


def services(pool: ConnectionPool, stripe: StripeApi, links: PageLinks | str) -> Services:
    """The customer, payment and subscription services on the command record in `pool`
    (tables created);
    `links` makes their `confirmation_url`s (a bare public base URL: unsigned ones)."""
    record = CommandRecord(pool, stripe)
    record.create_tables()
    return Services(
        CustomerService(record, links),
        PaymentService(record, links),
        SubscriptionService(record, links),
        portal=links if isinstance(links, SignedPageLinks) else None,
        livemode=stripe.livemode,
        pay_links=PayLinks(stripe, links) if isinstance(links, SignedPageLinks) else None,
    )


LINK_SECRET_FILE = "link.secret"
NO_LINK_SECRET = (
    "DATABASE_URL is set but no BILLING_LEDGER_LINK_SECRET (or _FILE): the customer pages' "
    "links are signed with it (a new one: `openssl rand -hex 32`)"
)


def link_signer(settings: Settings) -> LinkSigner:
    """What signs the customer pages' links: BILLING_LEDGER_LINK_SECRET(_FILE); with
    DATABASE_URL it must be set; the embedded default keeps one in
    BILLING_LEDGER_HOME/link.secret, created on first use (readable by its owner only)."""
    text = settings.link_secret_text()
    if text is None:
        if settings.DATABASE_URL:
            raise ConfigurationError(NO_LINK_SECRET)
        path = settings.BILLING_LEDGER_HOME.expanduser().resolve() / LINK_SECRET_FILE
        text = _read_or_create_secret(path)
    return LinkSigner(text.encode("utf-8"))


def _read_or_create_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of the same home created it first
            return path.read_text(encoding="ascii").strip()
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
    return path.read_text(encoding="ascii").strip()


def page_links(settings: Settings) -> SignedPageLinks:
    """The customer pages' signed links under PUBLIC_BASE_URL."""
    return SignedPageLinks(settings.public_base_url(), link_signer(settings))


def web_pages(settings: Settings, pool: ConnectionPool) -> Starlette:
    """`/pay/…` and `/portal/…` on `pool` (opened): Stripe.js with STRIPE_PUBLISHABLE_KEY,
    the customer service for their changes (each recorded in the audit trail, actor
    `portal:<customer>`), the payment methods the tables hold."""
    gateway = stripe_gateway(settings)
    if gateway is None:  # no payments here: every page says so, and no link is needed
        links = SignedPageLinks(settings.public_base_url(), LinkSigner(secrets.token_bytes(32)))
    else:
        links = page_links(settings)
    built = services(pool, gateway, links) if gateway else None

    def record_change(actor: str, action: str, status: int, detail: dict[str, Any]) -> None:
        with pool.connection() as conn:
            audit.record(conn, action, str(status), detail, actor=actor)

    return create_pages(
        PageParts(
            links=links,
            stripe=gateway,
            customers=built.customers if built else None,
            methods=SavedMethods(pool),
            subscriptions=built.subscriptions if built else None,
            overview=CustomerBilling(pool),
            publishable_key=settings.publishable_key(),
            stripe_js_url=settings.STRIPE_JS_URL,
            theme=Theme(
                settings.PAGES_PRIMARY_COLOR,
                settings.PAGES_BACKGROUND_COLOR,
                settings.PAGES_TEXT_COLOR,
                settings.PAGES_DANGER_COLOR,
            ),
            frame_ancestors=settings.PAGES_FRAME_ANCESTORS,
            clock=time.time,
            audit=record_change,
            plan_prices=tuple(settings.PAGES_PLAN_PRICES),
        )
    )


def dashboard_signer(settings: Settings) -> LinkSigner:
    """What signs the dashboard's links and sessions: the customer pages' signer; without a
    link secret (DATABASE_URL set, none given), a key of this process only, so a `read` token
    still opens a session here while `dashboard-link` says what to set."""
    try:
        return link_signer(settings)
    except ConfigurationError:
        return LinkSigner(secrets.token_bytes(32))


def dashboard_parts(settings: Settings, pool: ConnectionPool, signer: LinkSigner) -> DashboardParts:
    """The finance dashboard's links and sessions (`signer`), its reads on `pool` and the API
    tokens a login trades for a session."""
    tokens = TokenStore(pool)
    return DashboardParts(
        signer=signer,
        public_base_url=settings.public_base_url(),
        figures=DashboardReads(pool),
        authenticate=tokens.authenticate,
        frame_ancestors=settings.PAGES_FRAME_ANCESTORS,
        clock=time.time,
    )


def web_dashboard(settings: Settings, pool: ConnectionPool, signer: LinkSigner) -> Starlette:
    """`/dashboard` on `pool` (opened), its sessions signed by `signer`."""
    return create_dashboard(dashboard_parts(settings, pool, signer))


def web_api(
    settings: Settings, pool: ConnectionPool, dashboard: LinkSigner | None = None
) -> Starlette:
    """`/api/v1` on `pool` (opened): tokens, the services (when a Stripe key is set), the
    audit trail of write scopes and the read side (the finance lists read as billing_reader,
    also for a finance dashboard session's cookie)."""
    tokens = TokenStore(pool)
    tokens.create_table()
    gateway = stripe_gateway(settings)
    built = services(pool, gateway, page_links(settings)) if gateway else None

    def record_use(token: ApiToken, operation: str, status: int, detail: dict[str, Any]) -> None:
        with pool.connection() as conn:
            audit.record(conn, f"api.{operation}", str(status), detail, actor=f"token:{token.name}")

    sessions = None
    if dashboard is not None:  # the finance lists also take a dashboard session's cookie
        sessions = dashboard_sessions(dashboard_parts(settings, pool, dashboard))
    return create_api(
        ApiParts(tokens, built, record_use, Reads(pool), FinanceReads(pool), sessions)
    )


def http_app(
    edge: Starlette,
    api: Starlette,
    pages: Starlette | None = None,
    dashboard: Starlette | None = None,
) -> ASGIApp:
    """The webhook endpoint, the API and the pages in one server: `/api/v1/…` to the API,
    `/pay/…`, `/portal/…` and `/pages/…` to the pages, `/dashboard` to the dashboard, the rest
    (POST /webhooks/stripe, health, metrics) to the edge, unchanged."""
    served = with_api(edge, api)
    if dashboard is not None:
        served = with_pages(served, dashboard, DASHBOARD_PREFIXES)
    return with_pages(served, pages, PREFIXES) if pages is not None else served


DASHBOARD_PREFIXES = ("/dashboard",)


def served_app(
    settings: Settings,
    event_log: EventLog,
    dsn: str,
    pool: ConnectionPool,
    apis: ConnectionPool,
    signer: LinkSigner,
) -> ASGIApp:
    """Everything HOST:PORT answers (`http_app`), on `pool` (ingest's) and `apis` (the API's,
    opened), the dashboard's sessions signed by `signer`."""
    edge = ingest_app(settings, event_log, pool, master_key(settings, dsn))
    return http_app(
        edge,
        web_api(settings, apis, signer),
        web_pages(settings, apis),
        web_dashboard(settings, apis, signer),
    )


@contextmanager
def serving_helpers(
    settings: Settings, dsn: str, sock: socket.socket, signer: LinkSigner, metrics_socket: str
) -> Iterator[Callable[[], None]]:
    """HTTP_PROCESSES - 1 more processes answering on `sock` beside this one, each restarted
    if it dies; drained on exit (their in-flight requests finish). Yields what to call just
    before this process starts accepting: it waits (at most HELPERS_READY_SECONDS) until every
    helper has built its app, then lets them all accept at once. A client that connects as
    soon as the port answers (a load balancer, a burst that keeps its connections alive)
    would otherwise have every connection accepted by whichever process listened first: on a
    2-core machine all 64 of wrk's went to this one while its helper was still starting.

    What the helpers count for /metrics reaches this process's registry within about a
    second; a /metrics request one of them accepts is answered from this process, over
    `metrics_socket`."""
    # Flags in shared memory, read without a lock: a helper killed while it waited on a
    # multiprocessing Event (or held its lock) would leave setting that Event hanging for good
    # (see ChildProcess.supervise), and this process could not start serving.
    context = multiprocessing.get_context("spawn")
    accept = context.RawValue(ctypes.c_bool, False)
    built = {
        f"http-{n}": context.RawValue(ctypes.c_bool, False)
        for n in range(1, settings.http_processes())
    }
    helpers: dict[str, Work] = {
        name: ChildProcess(
            name,
            serve_in_child,
            settings,
            (dsn, sock, signer, metrics_socket, ready, accept),
            lambda: None,
            mirrored=WEBHOOK_METRICS,
        ).supervise
        for name, ready in built.items()
    }

    def accept_together() -> None:
        deadline = time.monotonic() + HELPERS_READY_SECONDS
        waiting = dict(built)
        while waiting and time.monotonic() < deadline:
            time.sleep(READY_POLL_SECONDS)
            waiting = {name: ready for name, ready in waiting.items() if not ready.value}
        for name in waiting:
            log.warning(
                "%s not ready after %ss; serving without it until it is",
                name,
                HELPERS_READY_SECONDS,
            )
        accept.value = True

    workers = Workers(helpers)
    workers.start()
    try:
        yield accept_together
    finally:
        workers.drain()


def serve_in_child(
    settings: Settings,
    dsn: str,
    sock: socket.socket,
    signer: LinkSigner,
    metrics_socket: str,
    built: ctypes.c_bool,
    accept: ctypes.c_bool,
    stop: ProcessEvent,
) -> None:
    """A helper serving process: the same app as the parent's on the shared socket, accepting
    once `accept` is set (`serving_helpers`), until `stop` is set; its /metrics is the
    parent's."""
    event_log = _open_when_available(settings, dsn, stop)
    if event_log is None:
        return
    try:
        with connection_pool(dsn) as pool, api_pool(dsn) as apis:
            app = served_app(settings, event_log, dsn, pool, apis, signer)
            log.info("%s ready to accept", multiprocessing.current_process().name)
            built.value = True
            while not accept.value:
                if stop.wait(READY_POLL_SECONDS):
                    return
            serve_until(metrics_from(metrics_socket, app), settings, sock, stop)
    finally:
        event_log.close()


# --- backfill and reconciliation: what Stripe's API holds, into the log ---------------------


def fetched_appender(
    event_log: EventLog, pool: ConnectionPool, master: MasterKey, source: str
) -> Appender:
    """Appends what was fetched from Stripe to `event_log`, sealed, marked with `source`."""
    return Appender(event_log, sealer(pool, master), source)


def reconciler(
    gateway: StripeApi, event_log: EventLog, pool: ConnectionPool, master: MasterKey, account: str
) -> Reconciler:
    """Reconciliation of `account` ('' for the platform) on `pool` (its runs' table created)."""
    runs = PostgresRuns(pool)
    runs.create_table()
    return Reconciler(
        Lister(gateway, account),
        fetched_appender(event_log, pool, master, FETCHED),
        event_log,
        runs,
        account=account,
        livemode=gateway.livemode,
    )


@contextmanager
def scheduled_reconciliation(
    settings: Settings, dsn: str, event_log: EventLog
) -> Iterator[ReconcileSchedule | None]:
    """`up`'s reconciliation of every known account (accounts.py) every
    RECONCILE_INTERVAL_SECONDS (None without STRIPE_API_KEY or with the interval 0), stopped
    on exit."""
    gateway = stripe_gateway(settings)
    if gateway is None or settings.RECONCILE_INTERVAL_SECONDS == 0:
        yield None
        return
    with api_pool(dsn) as pool:
        with pool.connection() as conn:
            audit.create_table(conn)
        master = master_key(settings, dsn)
        schedule = ReconcileSchedule(
            lambda: known_accounts(pool, gateway.livemode, settings.STRIPE_CONNECT_ACCOUNTS),
            lambda account: reconciler(gateway, event_log, pool, master, account),
            pool,
            settings.RECONCILE_INTERVAL_SECONDS,
        )
        schedule.start()
        try:
            yield schedule
        finally:
            schedule.stop()


__all__ = [
    "API_POOL_SIZE",
    "MemoryProcessing",
    "Pipeline",
    "api_pool",
    "app_role_dsn",
    "application",
    "connection_pool",
    "database",
    "http_app",
    "fetched_appender",
    "ingest_app",
    "kafka_event_log",
    "memory_application",
    "key_store",
    "link_signer",
    "page_links",
    "master_key",
    "memory_processing",
    "open_event_log",
    "opened_event_log",
    "pipeline",
    "postgres_event_log",
    "prepare_live_schemas",
    "processor",
    "reconciler",
    "scheduled_reconciliation",
    "project_in_child",
    "projector",
    "running_pipeline",
    "sealer",
    "services",
    "stripe_gateway",
    "web_api",
    "dashboard_signer",
    "web_dashboard",
    "web_pages",
]
