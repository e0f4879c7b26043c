"""Runs the real `billing-ledger` CLI as a user would, on a free port, and stops it with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.webhooks import SECRET

STARTUP_SECONDS = 60.0


@dataclass
class Running:
    process: subprocess.Popen[str]
    base_url: str
    output: Path

    def log(self) -> str:
        return self.output.read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DATABASE_URL"))}
    env.update({"STRIPE_WEBHOOK_SECRETS": SECRET, "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


@contextmanager
def running(
    command: str,
    env: Mapping[str, str],
    workdir: Path,
    *,
    http: bool = True,
    args: Sequence[str] = (),
    port: int | None = None,
) -> Iterator[Running]:
    """Start `billing-ledger COMMAND [ARGS]` on `port` (a free one unless told), wait until it
    serves (or has started), stop it on exit."""
    port = port or free_port()
    output = workdir / f"{command}-{port}.log"
    workdir.mkdir(parents=True, exist_ok=True)
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "billing_ledger", command, *args],
            env=cli_env({"PORT": str(port), **env}),
            cwd=workdir,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    started = Running(process, f"http://127.0.0.1:{port}", output)
    try:
        _wait_until_started(started, http)
        yield started
    finally:
        stop(started)


def stop(started: Running) -> None:
    if started.process.poll() is None:
        started.process.send_signal(signal.SIGTERM)
        started.process.wait(timeout=60)
    assert started.process.returncode == 0, f"exit {started.process.returncode}:\n{started.log()}"
    assert "stopped cleanly" in started.log()


def _wait_until_started(started: Running, http: bool) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if started.process.poll() is not None:
            raise AssertionError(f"exited with {started.process.returncode}:\n{started.log()}")
        if http:
            try:
                if httpx.get(f"{started.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        elif "processing" in started.log():
            return
        time.sleep(0.1)
    raise AssertionError(f"did not start in {STARTUP_SECONDS}s:\n{started.log()}")
