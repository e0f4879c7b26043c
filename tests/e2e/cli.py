"""Runs the real `billing-ledger` CLI as a user would, on a free port, and stops it with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.webhooks import LINK_SECRET, MASTER_KEY, SECRET

STARTUP_SECONDS = 60.0


@dataclass
class Running:
    process: subprocess.Popen[str]
    base_url: str
    output: Path
    errors: Path | None = None
    """stderr, when kept apart from stdout (`running(..., split=True)`)."""

    def log(self) -> str:
        written = self.output.read_text()
        return written if self.errors is None else written + self.errors.read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DATABASE_URL"))}
    env.pop("BILLING_LEDGER_MASTER_KEY", None)
    env.pop("BILLING_LEDGER_MASTER_KEY_FILE", None)
    env.update({"STRIPE_WEBHOOK_SECRETS": SECRET, "PYTHONUNBUFFERED": "1"})
    env.pop("BILLING_LEDGER_LINK_SECRET", None)
    env.pop("BILLING_LEDGER_LINK_SECRET_FILE", None)
    if "DATABASE_URL" in extra:  # the suite's keys; the embedded default makes its own
        env["BILLING_LEDGER_MASTER_KEY"] = MASTER_KEY
        env["BILLING_LEDGER_LINK_SECRET"] = LINK_SECRET
    env.update(extra)
    return env


def api_token(env: Mapping[str, str], scopes: str, name: str = "shop") -> str:
    """A new API token with `scopes`, made the way an operator makes one (`tokens create`)."""
    made = subprocess.run(
        [sys.executable, "-m", "billing_ledger", "tokens", "create", "--name", name]
        + ["--scope", scopes],
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


@contextmanager
def running(
    command: str,
    env: Mapping[str, str],
    workdir: Path,
    *,
    http: bool = True,
    ready: bool = True,
    split: bool = False,
    args: Sequence[str] = (),
    port: int | None = None,
) -> Iterator[Running]:
    """Start `billing-ledger COMMAND [ARGS]` on `port` (a free one unless told), wait until it
    is ready (/readyz; with `ready=False` until it answers at all: /healthz) or has started,
    stop it on exit. Its stdout and stderr go to one file, or (`split`) to two."""
    port = port or free_port()
    output = workdir / f"{command}-{port}.log"
    errors = workdir / f"{command}-{port}.err" if split else None
    workdir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as files:
        sink = files.enter_context(output.open("w"))
        error_sink = files.enter_context(errors.open("w")) if errors else subprocess.STDOUT
        process = subprocess.Popen(
            [sys.executable, "-m", "billing_ledger", command, *args],
            env=cli_env({"PORT": str(port), **env}),
            cwd=workdir,
            stdout=sink,
            stderr=error_sink,
            text=True,
        )
    started = Running(process, f"http://127.0.0.1:{port}", output, errors)
    try:
        _wait_until_started(started, http, "/readyz" if ready else "/healthz")
        yield started
    finally:
        stop(started)


def stop(started: Running) -> None:
    if started.process.poll() is None:
        started.process.send_signal(signal.SIGTERM)
        started.process.wait(timeout=60)
    assert started.process.returncode == 0, f"exit {started.process.returncode}:\n{started.log()}"
    assert "stopped cleanly" in started.log()


def _wait_until_started(started: Running, http: bool, path: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if started.process.poll() is not None:
            raise AssertionError(f"exited with {started.process.returncode}:\n{started.log()}")
        if http:
            try:
                if httpx.get(f"{started.base_url}{path}", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        elif "processing" in started.log():
            return
        time.sleep(0.1)
    raise AssertionError(f"did not start in {STARTUP_SECONDS}s:\n{started.log()}")
