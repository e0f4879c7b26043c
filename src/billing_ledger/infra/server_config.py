"""The embedded server's configuration: sized to the machine, in a file beside its data.

initdb's defaults (128 MB of shared buffers, a checkpoint every 1 GB of WAL or 5 minutes) are
sized for any machine at all. The ledger's working set is the event store's and the read
tables' indexes, keyed by uuid5s, so every write lands on a random page: once those indexes
outgrow the shared buffers, each write reads a page back from the OS and evicts a dirty one,
and each checkpoint makes the first change of every page write a full page image (8 KB) into
the WAL. The settings here keep the working set in memory and checkpoints rare.

`pgdata/billing_ledger.conf` holds them, included from `postgresql.conf`; settings made with
`ALTER SYSTEM` (`postgresql.auto.conf`, read last) override them. The file is rewritten when
what the machine calls for changes; a server that is already running reads it at its next
start. The README says what a user's own PostgreSQL should have.
"""

from __future__ import annotations

import os
from pathlib import Path

CONF_NAME = "billing_ledger.conf"
INCLUDE = f"include_if_exists = '{CONF_NAME}'"
MB = 1024 * 1024
GB = 1024 * MB
# Settings that take effect only when the server starts (the rest on a reload).
RESTART_SETTINGS = frozenset({"shared_buffers"})


def memory_bytes() -> int:
    """The memory this process may use: the cgroup's limit if lower than the machine's."""
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return machine
    return min(machine, int(limit)) if limit.isdigit() else machine


def settings(memory: int) -> dict[str, str]:
    """The embedded server's settings for a machine with `memory` bytes.

    - `shared_buffers`: a quarter of the memory (between 128 MB and 8 GB), so the event
      store's and the read tables' indexes stay in PostgreSQL's own cache.
    - `effective_cache_size`: three quarters of the memory (with the OS cache), for the planner.
    - `max_wal_size` 8 GB and `checkpoint_timeout` 30 min: with the defaults a backlog
      forced a checkpoint every ~20 s (1 GB of WAL), and each one made the next change of
      every random page a full page image.
    - `maintenance_work_mem`: a rebuild builds its indexes after loading the rows.
    - `random_page_cost` 1.1: what is not cached comes from an SSD or the page cache.
    """
    shared = _clamp(memory // 4, 128 * MB, 8 * GB)
    return {
        "shared_buffers": _size(shared),
        "effective_cache_size": _size(max(memory * 3 // 4, shared)),
        "maintenance_work_mem": _size(_clamp(memory // 16, 64 * MB, 1 * GB)),
        "max_wal_size": "8GB",
        "min_wal_size": "1GB",
        "checkpoint_timeout": "30min",
        "checkpoint_completion_target": "0.9",
        "random_page_cost": "1.1",
    }


def render(values: dict[str, str]) -> str:
    lines = [
        "# Written by billing-ledger for its embedded server, sized to this machine; rewritten",
        "# when that changes. Override a setting with ALTER SYSTEM (postgresql.auto.conf).",
    ]
    lines += [f"{name} = '{value}'" for name, value in sorted(values.items())]
    return "\n".join(lines) + "\n"


def write(pgdata: Path, values: dict[str, str]) -> bool:
    """Write the settings file of `pgdata` and include it from postgresql.conf; whether
    anything changed (nothing is touched when it is already so)."""
    changed = False
    conf = pgdata / "postgresql.conf"
    text = conf.read_text()
    if INCLUDE not in text.splitlines():
        conf.write_text(text + ("" if text.endswith("\n") else "\n") + INCLUDE + "\n")
        changed = True
    target = pgdata / CONF_NAME
    wanted = render(values)
    if not target.exists() or target.read_text() != wanted:
        target.write_text(wanted)
        target.chmod(0o644)  # read by the server's own user (another one when we are root)
        changed = True
    return changed


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def _size(value: int) -> str:
    return f"{value // GB}GB" if value % GB == 0 else f"{value // MB}MB"
