"""The projector runs in a child process of `billing-ledger up|process` (under `up` the processor
too, apart from the webhook endpoint, at a lower priority): restarted when it dies, gone when
its parent is killed, drained with it on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg

from tests.e2e.cli import cli_env, running
from tests.e2e.test_webhook_to_tables import assert_rows, deliver_customer_and_subscription, rows
from tests.support.stripe import customer, event
from tests.support.webhooks import deliver

WAIT_SECONDS = 30.0


def projector_pids(parent: int) -> list[int]:
    """The parent's children started by multiprocessing's spawn (not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def started_pid(log: str, name: str) -> int | None:
    """The pid of the `name` child the supervisor announced last in `log`."""
    found = re.findall(rf"{name} process (\d+) started", log)
    return int(found[-1]) if found else None


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {WAIT_SECONDS}s: {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def test_a_killed_projector_process_is_restarted(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "EVENT_LOG": "postgres"}
    with running("up", env, tmp_path) as server:
        wait_for(
            lambda: started_pid(server.log(), "projector") in projector_pids(server.process.pid),
            "a projector process",
        )
        first = started_pid(server.log(), "projector")
        assert first is not None
        os.kill(first, signal.SIGKILL)
        deliver_customer_and_subscription(server.base_url)
        assert_rows(database_url)  # projected by the restarted child
        second = started_pid(server.log(), "projector")
        assert second != first
        assert second in projector_pids(server.process.pid)
        assert "projector process exited -9; restarting" in server.log()


def processed_total(base_url: str) -> float:
    """`billing_ledger_events_processed_total` summed over outcomes, from /metrics."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    pattern = r"^billing_ledger_events_processed_total\{[^}]*\} ([0-9.e+]+)$"
    return sum(float(v) for v in re.findall(pattern, text, re.MULTILINE))


def sessions_niced(database_url: str, application_name: str) -> bool:
    """Whether the sessions named `application_name` exist and all run 10 nice levels down."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        pids = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                (application_name,),
            )
        ]
    try:
        return bool(pids) and all(os.getpriority(os.PRIO_PROCESS, pid) >= 10 for pid in pids)
    except ProcessLookupError:
        return False  # a session ended meanwhile: look again


def test_up_processes_in_a_child_that_yields_to_ingest(database_url: str, tmp_path: Path) -> None:
    """The processor of `up` is a process of its own, niced below the webhook endpoint,
    restarted when killed; what it counts still shows in the parent's /metrics."""
    env = {"DATABASE_URL": database_url, "EVENT_LOG": "postgres"}
    with running("up", env, tmp_path) as server:
        wait_for(lambda: started_pid(server.log(), "processor") is not None, "a processor")
        first = started_pid(server.log(), "processor")
        assert first is not None
        parent = os.getpriority(os.PRIO_PROCESS, server.process.pid)
        wait_for(  # set by the child once it runs
            lambda: os.getpriority(os.PRIO_PROCESS, first) == min(parent + 10, 19),
            "the processor to run 10 nice levels below ingest",
        )
        # Its database sessions too (the suite's server is on this machine: a Unix socket).
        wait_for(
            lambda: sessions_niced(database_url, "billing-ledger-processor"),
            "the processor's database sessions to run niced",
        )
        os.kill(first, signal.SIGKILL)
        deliver_customer_and_subscription(server.base_url)
        assert_rows(database_url)  # processed by the restarted child
        assert started_pid(server.log(), "processor") != first
        assert "processor process exited -9; restarting" in server.log()
        wait_for(lambda: processed_total(server.base_url) >= 2, "/metrics to count them")


def test_the_projector_stops_when_its_parent_is_killed(database_url: str, tmp_path: Path) -> None:
    env = cli_env({"DATABASE_URL": database_url, "EVENT_LOG": "postgres", "PORT": "0"})
    output = tmp_path / "process.log"
    with output.open("w") as sink:
        parent = subprocess.Popen(
            [sys.executable, "-m", "billing_ledger", "process"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: len(projector_pids(parent.pid)) == 1, "one projector process")
        [child] = projector_pids(parent.pid)
        parent.kill()
        parent.wait(timeout=10)
        wait_for(lambda: not alive(child), "the orphaned projector to stop")
    finally:
        if parent.poll() is None:
            parent.kill()


def test_sigterm_drains_the_projector_with_its_parent(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "EVENT_LOG": "postgres"}
    with running("up", env, tmp_path) as server:
        with httpx.Client(timeout=30) as client:
            sent = deliver(client, server.base_url, event("customer.created", customer("cus_T")))
            assert sent.status_code == 200, sent.text
        query = "SELECT 1 FROM billing.stripe_customers WHERE stripe_customer_id = 'cus_T'"
        assert rows(database_url, query) == [{"?column?": 1}], server.log()
        children = projector_pids(server.process.pid)
        named = {started_pid(server.log(), name) for name in ("projector", "processor", "http-1")}
        # the projector and, under `up`, the processor and the helper serving processes
        assert named - {None} <= set(children) and len(children) >= 2
    # `running` stopped it with SIGTERM, asserted exit 0 and "stopped cleanly"
    assert not any(alive(child) for child in children)
