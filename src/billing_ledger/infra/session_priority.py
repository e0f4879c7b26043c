"""The database sessions of `up`'s workers yield the cores to ingest too.

Under `up` the processor and the projector run niced below the webhook endpoint, but most of
their cost is PostgreSQL's, in server processes of their own (one per session) that the
scheduler treats like ingest's. When the server runs on this machine (reached over a Unix
socket: the embedded server, or a local one), each worker names its sessions
(`application_name`) and lowers the priority of their server processes as they appear, by the
same niceness. Elsewhere (a server on another host, or processes this user may not renice)
nothing changes but one warning.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Protocol

import psycopg
from psycopg.conninfo import conninfo_to_dict

log = logging.getLogger(__name__)

SCAN_SECONDS = 2.0
SESSIONS = (
    "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
    "AND backend_type = 'client backend'"
)


class StopSignal(Protocol):
    def is_set(self) -> bool: ...


def is_local(dsn: str) -> bool:
    """Whether `dsn` reaches its server over a Unix socket (so the server is on this host)."""
    host = str(conninfo_to_dict(dsn).get("host") or os.environ.get("PGHOST") or "")
    return host == "" or all(part.startswith("/") for part in host.split(","))


def name_sessions(application_name: str) -> None:
    """Name every libpq session this process opens from now on (our pools and the event
    store's alike: libpq reads PGAPPNAME when a DSN names no application)."""
    os.environ["PGAPPNAME"] = application_name


def lower_sessions(dsn: str, application_name: str, niceness: int, stop: StopSignal) -> None:
    """Until `stop`, lower by `niceness` each server process of the sessions named
    `application_name` (once each, as they appear). Returns at once when that cannot work."""
    if niceness <= 0 or not is_local(dsn):
        return
    lowered: set[int] = set()
    while not stop.is_set():
        try:
            with psycopg.connect(dsn, autocommit=True, application_name="") as conn:
                while not stop.is_set():
                    pids = {row[0] for row in conn.execute(SESSIONS, (application_name,))}
                    for pid in pids - lowered:
                        _lower(pid, niceness)
                    lowered = pids
                    # Not stop.wait: one waiter per process on the parent's event, the worker.
                    time.sleep(SCAN_SECONDS)
        except PermissionError:
            log.warning("database sessions keep their priority: not permitted")
            return
        except psycopg.Error as e:
            log.warning("database session priority: %s", type(e).__name__)
            time.sleep(SCAN_SECONDS)


def _lower(pid: int, niceness: int) -> None:
    try:
        current = os.getpriority(os.PRIO_PROCESS, pid)
        os.setpriority(os.PRIO_PROCESS, pid, min(19, current + niceness))
    except ProcessLookupError:
        pass  # the session ended meanwhile


def in_background(dsn: str, application_name: str, niceness: int, stop: StopSignal) -> None:
    """`lower_sessions` in a daemon thread of this process."""
    threading.Thread(
        target=lower_sessions,
        args=(dsn, application_name, niceness, stop),
        name="session-priority",
        daemon=True,
    ).start()
