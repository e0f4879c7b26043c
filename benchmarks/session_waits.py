"""What a target's PostgreSQL sessions are doing while a burst runs: `pg_stat_activity` of its
database sampled every few milliseconds in a thread of the benchmark's process.

Each sample counts the sessions that are not idle, by who opened them (`application_name`:
billing-ledger's processor and projector name theirs; the serving processes' and the peer's are
unnamed) and by what they are doing (state, wait event, the statement's first words). The
report gives, per kind, the mean number of sessions in it: 0.5 means half a session on average
over the burst, e.g. one session waiting there half the time. One query per sample on a
connection of its own; a sample costs PostgreSQL about a tenth of a millisecond.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import psycopg

SAMPLE_SECONDS = 0.005
ACTIVITY = """
SELECT coalesce(nullif(application_name, ''), 'serving'), state,
       coalesce(wait_event_type || ':' || wait_event, 'running'),
       CASE WHEN state = 'active' THEN split_part(ltrim(query), ' ', 1) ELSE '' END
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'
"""
Kind = tuple[str, str, str, str]  # who, state, wait, statement


class SessionWaits:
    """Samples the sessions of `dsn`'s database from `start` until `stop`."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._counts: Counter[Kind] = Counter()
        self._samples = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="session-waits", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            while not self._stopping.is_set():
                for row in conn.execute(ACTIVITY):
                    self._counts[(str(row[0]), str(row[1]), str(row[2]), str(row[3]))] += 1
                self._samples += 1
                time.sleep(SAMPLE_SECONDS)

    def describe(self, shown: int = 6) -> str:
        """The `shown` busiest kinds, as mean sessions: `serving idle in transaction
        Client:ClientRead 0.61` is a serving process's transaction waiting for its client."""
        if not self._samples:
            return "sessions: not sampled"
        busiest = self._counts.most_common(shown)
        return "sessions (mean over the burst): " + "; ".join(
            f"{' '.join(part for part in kind if part)} {count / self._samples:.2f}"
            for kind, count in busiest
        )
