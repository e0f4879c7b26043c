"""Serving the HTTP app with uvicorn: in this process until SIGINT or SIGTERM, and in the helper
processes that share its listening socket (HTTP_PROCESSES) until told to stop.

One Python process answers on one core at a time, and a webhook costs about half a millisecond
of it (benchmarks/README.md, "Ingest"). The socket is bound once, here; every serving process
accepts from that one queue, so the kernel hands each connection to whichever is free, and a
process that dies loses only the requests it was answering (Stripe retries them: nothing
unanswered was acknowledged).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Callable
from multiprocessing.synchronize import Event as ProcessEvent

import uvicorn
from starlette.types import ASGIApp

from billing_ledger.errors import ConfigurationError
from billing_ledger.infra import heap
from billing_ledger.settings import Settings

GRACEFUL_SECONDS = 30
"""How long in-flight requests may take to finish once a stop is asked for."""


def listening_socket(settings: Settings) -> socket.socket:
    """HOST:PORT bound and listening, to be shared by every serving process."""
    family = socket.AF_INET6 if ":" in settings.HOST else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.HOST, settings.PORT))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {settings.HOST}:{settings.PORT}: {e.strerror or e} "
            "(choose another PORT or HOST)"
        ) from None
    return sock


def serve(
    app: ASGIApp,
    settings: Settings,
    sockets: list[socket.socket],
    announce: Callable[[], None],
) -> None:
    """Serve `app` on `sockets` (TLS when configured); in-flight requests finish first.

    `announce` runs once this process accepts. Returns after a signal, leaving the caller to
    drain whatever else it runs and exit 0.
    """
    server = uvicorn.Server(_config(app, settings))
    original_startup = server.startup

    async def startup(sockets: list[socket.socket] | None = None) -> None:
        await original_startup(sockets=sockets)
        announce()

    server.startup = startup  # type: ignore[method-assign]
    # uvicorn handles SIGINT/SIGTERM while serving, then re-raises the signal to the handler
    # that was there before; a no-op one lets the caller drain the workers and exit 0.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)
    heap.settle()
    server.run(sockets=sockets)


def serve_until(app: ASGIApp, settings: Settings, sock: socket.socket, stop: ProcessEvent) -> None:
    """Serve `app` on `sock` in a helper process until `stop` is set (the parent decides when:
    this process leaves SIGINT and SIGTERM to it); in-flight requests finish first."""
    server = uvicorn.Server(_config(app, settings))
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]

    def stop_when_told() -> None:
        stop.wait()
        server.should_exit = True

    threading.Thread(target=stop_when_told, name="serve-until", daemon=True).start()
    heap.settle()
    server.run(sockets=[sock])


def _config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    tls = settings.tls_files()
    return uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
        # uvicorn's access log would print client addresses and paths at INFO; our own
        # structured line per webhook says what matters.
        access_log=False,
    )
