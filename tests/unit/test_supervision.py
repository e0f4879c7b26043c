"""A worker child that fails says so in one log line (the parent restarts it), never a traceback."""

from __future__ import annotations

import json
import threading
from multiprocessing.synchronize import Event as ProcessEvent

import pytest
from prometheus_client import Counter, Histogram

from billing_ledger.infra.metrics import REGISTRY
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


MIRROR_COUNTER = Counter("test_mirrored_things", "…", ["kind"], registry=REGISTRY)
MIRROR_HISTOGRAM = Histogram(
    "test_mirrored_seconds", "…", buckets=(0.1, 1.0, 10.0), registry=REGISTRY
)


def counting_work(settings: Settings, stop: ProcessEvent) -> None:
    MIRROR_COUNTER.labels("a").inc(3)
    for seconds in (0.05, 0.5, 0.5, 5.0, 50.0):
        MIRROR_HISTOGRAM.observe(seconds)
    stop.wait()


def sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_a_childs_counters_and_histograms_are_added_to_the_parents() -> None:
    MIRROR_COUNTER.labels("a").inc(1)  # the parent's own
    MIRROR_HISTOGRAM.observe(0.5)
    child = ChildProcess(
        "counting",
        counting_work,
        Settings(),
        (),
        lambda: None,
        mirrored=(MIRROR_COUNTER, MIRROR_HISTOGRAM),
    )
    stop = threading.Event()
    supervising = threading.Thread(target=child.supervise, args=(stop,))
    supervising.start()
    threading.Timer(4.0, stop.set).start()
    supervising.join(timeout=60)

    assert sample("test_mirrored_things_total", kind="a") == 4
    buckets = {le: sample("test_mirrored_seconds_bucket", le=le) for le in ("0.1", "1.0", "10.0")}
    assert buckets == {"0.1": 1, "1.0": 4, "10.0": 5}
    assert sample("test_mirrored_seconds_bucket", le="+Inf") == 6
    assert sample("test_mirrored_seconds_count") == 6
    assert sample("test_mirrored_seconds_sum") == pytest.approx(56.55)
