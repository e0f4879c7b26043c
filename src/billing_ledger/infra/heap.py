"""The garbage collector, tuned for a long-running process once it has started.

A process of ours holds a large heap from the moment its imports and set-up are done (pydantic
models, the Stripe SDK, eventsourcing, Starlette): some 300,000 objects that live as long as
the process. CPython's collector, at its default thresholds, walks the young objects every 700
allocations and, now and then, that whole heap; per webhook or per event that is a fifth to a
third of the process's CPU (benchmarks/README.md, "Ingest": 0.68 ms of server CPU per webhook
at the defaults, 0.59 after `settle`, 0.61 with the collector off, in one window). `settle`
moves what exists at startup out of the collector's sight (`gc.freeze`) and lets garbage
accumulate longer before each pass. Reference cycles are still collected, in fewer, larger
passes.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""Allocations (less deallocations) of container objects between two collections of the
youngest generation; CPython's default is 700."""
OLDER_THRESHOLDS = (20, 100)
"""Collections of one generation before the next older one is examined (defaults 10, 10)."""


def settle() -> None:
    """Call once the process has started, before its long-running work: everything alive now
    is kept out of every later collection, and collections become rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
