"""Long-running workers: threads stopped together, and a child process kept alive.

The projector runs in a child process of its own: one Python process runs one thread at a time,
and the processor and projector are both busy when a backlog is worked off, so apart they use
two cores. The parent restarts the child if it dies, reports on it while it runs, and stops it
(after its current batch) when the workers drain; a child whose parent was killed stops by
itself.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

from billing_ledger.infra import logs
from billing_ledger.settings import Settings

log = logging.getLogger(__name__)

SUPERVISE_SECONDS = 1.0
# How long a draining child may take to finish its batch before it is terminated (its
# transaction then rolls back, and the next start does that batch again).
DRAIN_SECONDS = 60.0

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
    ) -> None:
        self._name = name
        self._target = target
        self._settings = settings
        self._args = args
        self._report = report
        self._context = multiprocessing.get_context("spawn")

    def supervise(self, stop: threading.Event) -> None:
        """Keep a child running until `stop` is set, then stop it after its batch."""
        child_stop = self._context.Event()
        child: BaseProcess | None = None
        try:
            while not stop.is_set():
                if child is None or not child.is_alive():
                    if child is not None:
                        log.error("%s process exited %s; restarting", self._name, child.exitcode)
                    child = self._start(child_stop)
                stop.wait(SUPERVISE_SECONDS)
                self._report()
        finally:
            child_stop.set()
            if child is not None:
                child.join(DRAIN_SECONDS)
                if child.is_alive():
                    log.error(
                        "%s process did not stop in %ss; terminating", self._name, DRAIN_SECONDS
                    )
                    child.terminate()
                    child.join()

    def _start(self, child_stop: ProcessEvent) -> BaseProcess:
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        child = self._context.Process(
            target=_run_child,
            args=(self._target, self._settings, self._args, level, child_stop),
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
) -> None:
    """The child process: run until the parent says stop, or is gone."""
    # SIGINT reaches the whole process group on Ctrl-C: the parent decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logs.configure(settings.LOG_FORMAT, log_level, secrets=settings.secret_values())
    parent = multiprocessing.parent_process()
    if parent is not None:
        watch = threading.Thread(
            target=_stop_when_gone, args=(parent, stop), name="parent-watch", daemon=True
        )
        watch.start()
    target(settings, *args, stop)


def _stop_when_gone(parent: BaseProcess, stop: ProcessEvent) -> None:
    """A parent killed outright (SIGKILL) cannot drain its child: the child stops itself."""
    multiprocessing.connection.wait([parent.sentinel])
    stop.set()
