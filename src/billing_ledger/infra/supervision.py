"""Long-running workers: threads stopped together, and a child process kept alive.

The projector runs in a child process of its own: one Python process runs one thread at a time,
and the processor and projector are both busy when a backlog is worked off, so apart they use
two cores (under `up` the processor does too, apart from the webhook endpoint). The parent
restarts the child if it dies, reports on it while it runs, and stops it (after its current
batch) when the workers drain; a child whose parent was killed stops by itself. Counters and
histograms the child adds to (`mirrored`) are sent to the parent about once a second and added
to the parent's, so its /metrics shows them.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

from prometheus_client import Counter, Histogram

from billing_ledger.infra import logs
from billing_ledger.infra.metrics import REGISTRY
from billing_ledger.settings import Settings

log = logging.getLogger(__name__)

SUPERVISE_SECONDS = 1.0
# How long a draining child may take to finish its batch before it is terminated (its
# transaction then rolls back, and the next start does that batch again).
DRAIN_SECONDS = 60.0

Totals = dict[tuple[str, str, tuple[tuple[str, str], ...]], float]
"""A child's totals: (metric family, sample, labels) → value; a histogram's buckets are
cumulative, as exposed."""
Mirrored = Counter | Histogram
MIRRORED_SAMPLES = ("_total", "_bucket", "_sum")
Work = Callable[[threading.Event], None]
ChildWork = Callable[..., None]
"""Runs in the child until the `ProcessEvent` passed last is set."""


@dataclass
class Workers:
    """Named loops, each in a thread, all stopped by one event and drained together."""

    work: dict[str, Work]
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for name, target in self.work.items():
            thread = threading.Thread(target=target, args=(self.stop,), name=name, daemon=True)
            thread.start()
            self.threads.append(thread)

    def drain(self) -> None:
        """Stop after the current batches commit their effects and positions."""
        self.stop.set()
        for thread in self.threads:
            thread.join()


class ChildProcess:
    """Runs `target(settings, *args, stop)` in a spawned child, restarting it if it dies.

    `report` is called about once a second while the child runs (the parent's view of the
    child's progress, for /metrics); it must not raise.
    """

    def __init__(
        self,
        name: str,
        target: ChildWork,
        settings: Settings,
        args: tuple[Any, ...],
        report: Callable[[], None],
        *,
        mirrored: Sequence[Mirrored] = (),
    ) -> None:
        self._name = name
        self._target = target
        self._settings = settings
        self._args = args
        self._report = report
        self._context = multiprocessing.get_context("spawn")
        self._mirrored = {metric._name: metric for metric in mirrored}
        # One queue per child: a child killed while writing to it may leave its lock held.
        self._totals: multiprocessing.Queue[tuple[int, Totals]] | None = None
        self._seen: dict[int, Totals] = {}

    def supervise(self, stop: threading.Event) -> None:
        """Keep a child running until `stop` is set, then stop it after its batch.

        Each child gets a stop event of its own: a child killed while it waited on the event
        stays counted among its sleepers, and setting an event shared with its successor
        would wait for the dead one to wake (multiprocessing's Condition) forever."""
        child_stop = self._context.Event()
        child: BaseProcess | None = None
        try:
            while not stop.is_set():
                if child is None or not child.is_alive():
                    if child is not None:
                        log.error("%s process exited %s; restarting", self._name, child.exitcode)
                        child_stop = self._context.Event()
                    child = self._start(child_stop)
                    log.info("%s process %s started", self._name, child.pid)
                stop.wait(SUPERVISE_SECONDS)
                self._add_child_totals()
                self._report()
        finally:
            child_stop.set()
            if child is not None:
                deadline = time.monotonic() + DRAIN_SECONDS
                while child.is_alive() and time.monotonic() < deadline:
                    child.join(SUPERVISE_SECONDS)
                    self._add_child_totals()  # read while it drains: its last totals fit
                if child.is_alive():
                    log.error(
                        "%s process did not stop in %ss; terminating", self._name, DRAIN_SECONDS
                    )
                    child.terminate()
                    child.join()
            self._add_child_totals()

    def _add_child_totals(self) -> None:
        """Add to the parent's counters what the children counted since they last said."""
        if self._totals is None:
            return
        while True:
            try:
                pid, totals = self._totals.get_nowait()
            except (queue.Empty, OSError, ValueError):
                return
            seen = self._seen.setdefault(pid, {})
            deltas: Totals = {}
            for key, value in totals.items():
                deltas[key] = value - seen.get(key, 0.0)
                seen[key] = value
            for family, metric in self._mirrored.items():
                if isinstance(metric, Histogram):
                    _add_to_histogram(metric, family, deltas)
                else:
                    for (name, sample, labels), delta in deltas.items():
                        if name == family and sample.endswith("_total") and delta > 0:
                            (metric.labels(**dict(labels)) if labels else metric).inc(delta)

    def _start(self, child_stop: ProcessEvent) -> BaseProcess:
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        mirror = None
        if self._mirrored:
            self._totals = self._context.Queue(maxsize=100)
            mirror = (self._totals, tuple(self._mirrored))
        child = self._context.Process(
            target=_run_child,
            args=(self._target, self._settings, self._args, level, child_stop, mirror),
            name=f"billing-ledger-{self._name}",
            daemon=True,
        )
        child.start()
        return child


def _run_child(
    target: ChildWork,
    settings: Settings,
    args: tuple[Any, ...],
    log_level: str,
    stop: ProcessEvent,
    mirror: tuple[multiprocessing.Queue[tuple[int, Totals]], tuple[str, ...]] | None = None,
) -> None:
    """The child process: run until the parent says stop, or is gone."""
    # SIGINT reaches the whole process group on Ctrl-C: the parent decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logs.configure(settings.LOG_FORMAT, log_level, secrets=settings.secret_values())
    when_parent_gone(stop.set)
    try:
        _work(target, settings, args, stop, mirror)
    except Exception:  # one log line (its type and where, no message), not a traceback
        log.error(
            "%s failed; the parent restarts it",
            multiprocessing.current_process().name,
            exc_info=True,
        )
        sys.exit(1)


def _work(
    target: ChildWork,
    settings: Settings,
    args: tuple[Any, ...],
    stop: ProcessEvent,
    mirror: tuple[multiprocessing.Queue[tuple[int, Totals]], tuple[str, ...]] | None,
) -> None:
    if mirror is None:
        target(settings, *args, stop)
        return
    finished = threading.Event()  # not `stop`: the parent's, shared with the next child
    sender = threading.Thread(
        target=_send_totals, args=(*mirror, finished), name="metrics-mirror", daemon=True
    )
    sender.start()
    try:
        target(settings, *args, stop)
    finally:
        finished.set()
        sender.join()


def _send_totals(
    sink: multiprocessing.Queue[tuple[int, Totals]],
    families: tuple[str, ...],
    finished: threading.Event,
) -> None:
    """About once a second, and once more at the end, the totals of `families` to the parent."""
    pid = multiprocessing.current_process().pid or 0
    done = False
    while not done:
        done = finished.wait(SUPERVISE_SECONDS)
        totals: Totals = {}
        for metric in REGISTRY.collect():
            if metric.name not in families:
                continue
            for sample in metric.samples:
                if sample.name.endswith(MIRRORED_SAMPLES):
                    labels = tuple(sorted(sample.labels.items()))
                    totals[(metric.name, sample.name, labels)] = sample.value
        try:
            sink.put((pid, totals), timeout=SUPERVISE_SECONDS)
        except queue.Full:
            continue  # the next totals include these counts


def _add_to_histogram(histogram: Histogram, family: str, deltas: Totals) -> None:
    """Add a child's observations since it last said to the parent's unlabelled `histogram`:
    bucket by bucket (each the difference of two cumulative counts), and their sum.

    prometheus_client has no public way to add counts to a bucket; `_buckets` and `_sum` are
    the values `observe` itself adds to."""
    cumulative = {
        float(dict(labels)["le"]): delta
        for (name, sample, labels), delta in deltas.items()
        if name == family and sample.endswith("_bucket")
    }
    below = 0.0
    for bucket, bound in zip(histogram._buckets, histogram._upper_bounds, strict=True):
        upto = cumulative.get(bound, below)
        if upto > below:
            bucket.inc(upto - below)
        below = upto
    added = sum(
        delta
        for (name, sample, _), delta in deltas.items()
        if name == family and sample.endswith("_sum")
    )
    if added > 0:
        histogram._sum.inc(added)


def when_parent_gone(action: Callable[[], None]) -> None:
    """In a child process: run `action` (in a thread of its own) once the parent has exited.
    A parent killed outright (SIGKILL) cannot stop its children: each stops itself."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        action()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
