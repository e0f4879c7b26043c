"""Prometheus metrics of this process, in a registry of our own (served at GET /metrics).

Under several serving processes (HTTP_PROCESSES) the helpers' counts are added to the first
process's registry (infra/supervision.py), which answers their /metrics requests too, over a
Unix socket of its own (`shared_exposition`).
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOKS_ACCEPTED = Counter(
    "billing_ledger_webhooks_accepted",
    "Verified Stripe events durably appended to the log of record, by event type.",
    ["event_type"],
    registry=REGISTRY,
)
WEBHOOKS_REJECTED = Counter(
    "billing_ledger_webhooks_rejected",
    "Webhook requests refused, by reason; none of them reached the log.",
    ["reason"],
    registry=REGISTRY,
)
APPEND_SECONDS = Histogram(
    "billing_ledger_append_seconds",
    "Time from a verified request to the log's durable acknowledgement.",
    registry=REGISTRY,
)
EVENTS_PROCESSED = Counter(
    "billing_ledger_events_processed",
    "Log records handled by the processor, by outcome (applied, unchanged, ignored, unhandled, "
    "dead_lettered).",
    ["outcome"],
    registry=REGISTRY,
)
UNHANDLED_EVENT_TYPES = Counter(
    "billing_ledger_unhandled_event_types",
    "Verified events of types we keep in the log but do not project, by type.",
    ["event_type"],
    registry=REGISTRY,
)
PROJECTOR_LAG = Gauge(
    "billing_ledger_projector_lag",
    "Domain events not yet projected (notification log head minus tracked position).",
    ["projection"],
    registry=REGISTRY,
)
PROJECTOR_POSITION = Gauge(
    "billing_ledger_projector_position",
    "Last domain-event notification id written to the read schema, per projection.",
    ["projection"],
    registry=REGISTRY,
)
RECONCILED_MISSING = Counter(
    "billing_ledger_reconciled_missing_events",
    "Events Stripe listed that the log lacked (their webhook never arrived), appended by "
    "reconciliation, by event type.",
    ["event_type"],
    registry=REGISTRY,
)
RECONCILED_LAST_SUCCESS = Gauge(
    "billing_ledger_reconciled_last_success_timestamp_seconds",
    "When the last reconciliation run succeeded (Unix time); Stripe keeps events 30 days.",
    registry=REGISTRY,
)


class _Exposition(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(generate_latest(REGISTRY))


@contextmanager
def shared_exposition(path: str) -> Iterator[None]:
    """This registry's exposition, written whole to whoever connects to the Unix socket at
    `path` (in a directory only this user may enter), until exit."""
    server = socketserver.ThreadingUnixStreamServer(path, _Exposition)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="metrics-exposition", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def read_shared_exposition(path: str) -> bytes:
    """What `shared_exposition` serves at `path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(5)
        conn.connect(path)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)
