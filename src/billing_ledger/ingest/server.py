"""Serving the ingest app over HTTP(S) with uvicorn, until SIGINT or SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import Callable

import uvicorn
from starlette.types import ASGIApp

from billing_ledger.infra import heap
from billing_ledger.settings import Settings


def serve(app: ASGIApp, settings: Settings, announce: Callable[[], None]) -> None:
    """Serve `app` on HOST:PORT (TLS when configured); in-flight requests finish first.

    `announce` runs once the socket listens. Returns after a signal, leaving the caller to
    drain whatever else it runs and exit 0.
    """
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
    heap.settle()
    server.run()
