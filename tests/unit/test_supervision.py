"""A worker child that fails says so in one log line (the parent restarts it), never a traceback."""

from __future__ import annotations

import json
import threading
from multiprocessing.synchronize import Event as ProcessEvent

import pytest

from billing_ledger.infra.supervision import ChildProcess
from billing_ledger.settings import Settings


def failing_work(settings: Settings, stop: ProcessEvent) -> None:
    raise RuntimeError("a message that might name a customer, cus_Secret")


def test_a_failing_child_logs_one_line_not_a_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    settings = Settings(LOG_FORMAT="json")
    child = ChildProcess("failing", failing_work, settings, (), lambda: None)
    stop = threading.Event()
    supervising = threading.Thread(target=child.supervise, args=(stop,))
    supervising.start()
    threading.Timer(3.5, stop.set).start()
    supervising.join(timeout=60)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "cus_Secret" not in err
    failures = [
        json.loads(line) for line in err.splitlines() if "failed; the parent restarts" in line
    ]
    assert failures, err
    assert failures[0]["message"] == "billing-ledger-failing failed; the parent restarts it"
    assert failures[0]["error"].startswith("RuntimeError at ")
