"""A rebuild's projections caught up in parallel: each group of them in a process of its own.

One process decodes each batch once and hands it to every projection, so a rebuild runs on one
core. The projections keep their own positions (`projection_tracking`) and none reads another's
tables, so groups of them can be caught up by separate processes into the same schema, each
decoding the batches for its own projections (the decode is paid once per group). Each child
tells the parent how many notifications its group projected after every batch; the parent
shows the progress of the group furthest behind and, when a child fails, stops the others
(their open batches roll back) and raises one line, RebuildFailed: a rerun resumes from each
projection's position, as after any interruption.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import sys
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from typing import Any

from billing_ledger.errors import BillingLedgerError
from billing_ledger.infra.supervision import when_parent_gone

__all__ = ["GROUPS", "ChildTarget", "RebuildFailed", "catch_up", "split"]

log = logging.getLogger(__name__)

# Of about equal cost in a rebuild (measured: benchmarks/README.md, "Rebuild"): the journal's
# posting rules cost about what the three others do together, and its process decodes only the
# money events it reads, while payment facts read nothing the first group does not decode
# already. The billing tables and MRR stay together: the trial summaries (migration 0014) are
# kept by triggers on both `mrr_points` and `subscriptions`, each reading the other table; one
# transaction writing both keeps them as the live projector does, while two concurrent ones
# could each miss the other's uncommitted rows.
GROUPS: tuple[tuple[str, ...], ...] = (("billing_tables", "mrr", "payment_facts"), ("journal",))
POLL_SECONDS = 1.0

ChildTarget = Callable[..., None]
"""Runs in a child as `target(*args, names, log_level, progress)`: catches the projections
`names` up, telling `progress` how many notifications each batch projected."""
Message = tuple[str, int, Any]  # (kind, group index, value)


class RebuildFailed(BillingLedgerError):
    """A rebuild process failed; the message names its projections and the reason."""


def split(names: Sequence[str], processes: int) -> list[tuple[str, ...]]:
    """`names` in at most `processes` groups, after GROUPS; a projection no group names joins
    the first (kept with the others it might depend on)."""
    if processes <= 1:
        return [tuple(names)]
    groups = [[name for name in group if name in names] for group in GROUPS]
    groups[0] += [name for name in names if not any(name in group for group in GROUPS)]
    found = [tuple(group) for group in groups if group]
    while len(found) > processes:
        found[-2:] = [found[-2] + found[-1]]
    return found


def catch_up(
    target: ChildTarget,
    args: tuple[Any, ...],
    groups: Sequence[tuple[str, ...]],
    starts: Sequence[int],
    progress: Callable[[int], None],
) -> None:
    """Run `target` for each group in a spawned child until all have caught up; `starts` are
    the groups' lowest positions, from which `progress` is told how far the slowest has come."""
    context = multiprocessing.get_context("spawn")
    sink: multiprocessing.Queue[Message] = context.Queue()
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    children = [
        context.Process(
            target=_run_group,
            args=(target, args, names, level, index, sink),
            name=f"billing-ledger-rebuild-{index}",
            daemon=True,
        )
        for index, names in enumerate(groups)
    ]
    try:
        for child in children:
            child.start()
        _follow(children, groups, sink, list(starts), progress)
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()  # its open batch rolls back; a rerun does it again
            if child.pid is not None:
                child.join()


def _follow(
    children: Sequence[BaseProcess],
    groups: Sequence[tuple[str, ...]],
    sink: multiprocessing.Queue[Message],
    positions: list[int],
    progress: Callable[[int], None],
) -> None:
    shown = min(positions)
    finished: set[int] = set()
    exited: set[int] = set()
    while len(finished) < len(children):
        message = _next(sink)
        if message is None:
            gone = {
                n for n, child in enumerate(children) if n not in finished and not child.is_alive()
            }
            # What a child put before it exited is read first; then its exit is the news.
            for n in sorted(gone & exited):
                raise RebuildFailed(
                    f"rebuilding {', '.join(groups[n])}: its process exited "
                    f"{children[n].exitcode}; run the same command again to resume"
                )
            exited |= gone
            continue
        kind, index, value = message
        if kind == "projected":
            positions[index] += value
            if (lowest := min(positions)) > shown:
                progress(lowest - shown)
                shown = lowest
        elif kind == "failed":
            raise RebuildFailed(
                f"rebuilding {', '.join(groups[index])} failed: {value}; fix the cause and run "
                "the same command again to resume"
            )
        else:
            finished.add(index)


def _next(sink: multiprocessing.Queue[Message]) -> Message | None:
    try:
        return sink.get(timeout=POLL_SECONDS)
    except queue.Empty:
        return None


def _run_group(
    target: ChildTarget,
    args: tuple[Any, ...],
    names: tuple[str, ...],
    log_level: str,
    index: int,
    sink: multiprocessing.Queue[Message],
) -> None:
    """The child: catch its group up, then say so; a failure is one line to the parent (the
    traceback is logged at debug, shown with -v)."""
    # Ctrl-C reaches the whole process group: the parent stops its children itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed outright cannot stop its children: each stops itself (its open batch
    # rolls back).
    when_parent_gone(lambda: os._exit(1))
    try:
        target(*args, names, log_level, lambda done: sink.put(("projected", index, done)))
    except Exception as e:
        log.debug("rebuilding %s failed", ", ".join(names), exc_info=True)
        sink.put(("failed", index, f"{type(e).__name__}: {_first_line(e)}"))
        sink.close()
        sink.join_thread()
        sys.exit(1)
    sink.put(("done", index, None))
    sink.close()
    sink.join_thread()


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [""])[0]
