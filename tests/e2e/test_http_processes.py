"""Several processes answer on HOST:PORT (HTTP_PROCESSES): each accepts from the one socket,
appends durably before its 200, is restarted when it dies and stops with its parent; /metrics
counts what every process accepted, whichever answers it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg

from billing_ledger.eventlog.secret_usage import fingerprint
from tests.e2e.cli import cli_env, running
from tests.e2e.test_projector_process import alive, started_pid, wait_for
from tests.support.stripe import customer, event
from tests.support.webhooks import SECRET, deliver

HELPERS = ("http-1", "http-2")


def deliver_each(base_url: str, first: int, count: int) -> set[int]:
    """`count` customers' events, each on a connection of its own; the statuses answered."""

    def one(n: int) -> int:
        with httpx.Client(timeout=30) as client:
            document = event("customer.created", customer(f"cus_P{n}"), event_id=f"evt_P{n}")
            return deliver(client, base_url, document).status_code

    with ThreadPoolExecutor(16) as pool:
        return set(pool.map(one, range(first, first + count)))


def logged(database_url: str) -> tuple[int, int]:
    """Records in the Postgres log of record, and distinct Stripe event ids among them."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM eventlog.stripe_events "
            "WHERE event_id LIKE 'evt_P%'"
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def verified_counts(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT fingerprint, verified_count FROM eventlog.secret_usage")
        return dict(rows.fetchall())


def accepted_total(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    pattern = r"^billing_ledger_webhooks_accepted_total\{[^}]*\} ([0-9.e+]+)$"
    return sum(float(v) for v in re.findall(pattern, text, re.MULTILINE))


def test_helper_processes_answer_on_the_same_port(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "EVENT_LOG": "postgres", "HTTP_PROCESSES": "3"}
    with running("up", env, tmp_path) as server:
        # The port answers once every process accepts: with the first process stopped as
        # soon as it does, the helpers alone accept, append and answer.
        wait_for(lambda: "billing-ledger listening on" in server.log(), "the announcement")
        listening = server.log().index("billing-ledger listening on")
        for name in HELPERS:
            assert f"billing-ledger-{name} ready to accept" in server.log()[:listening]
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            assert deliver_each(server.base_url, 0, 30) == {200}
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        assert deliver_each(server.base_url, 30, 60) == {200}
        assert logged(database_url) == (90, 90)

        # What the helpers counted reaches /metrics, whichever process answers it.
        wait_for(lambda: accepted_total(server.base_url) == 90, "/metrics to count all 90")
        assert all(accepted_total(server.base_url) == 90 for _ in range(6))

        # A helper killed outright is restarted; nothing it acknowledged is lost.
        killed = started_pid(server.log(), "http-1")
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        wait_for(lambda: started_pid(server.log(), "http-1") != killed, "http-1 restarted")
        assert "http-1 process exited -9; restarting" in server.log()
        assert deliver_each(server.base_url, 90, 30) == {200}
        assert logged(database_url) == (120, 120)
        # Each process's log counted the secret of every record it stored, in the same commit.
        assert verified_counts(database_url) == {fingerprint(SECRET): 120}
        helpers = [started_pid(server.log(), name) for name in HELPERS]
    # `running` stopped it with SIGTERM, asserted exit 0 and "stopped cleanly"
    assert not any(alive(pid) for pid in helpers if pid is not None)


def test_a_port_in_use_is_one_clear_line(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "EVENT_LOG": "postgres"}
    with running("ingest", env, tmp_path) as first:
        port = first.base_url.rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "billing_ledger", "ingest"],
            env=cli_env({**env, "PORT": port}),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
        assert "Traceback" not in second.stderr + second.stdout
