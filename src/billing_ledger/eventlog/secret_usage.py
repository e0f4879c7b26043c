"""Which webhook signing secret verified events, and when (`eventlog.secret_usage`).

Operators retire an old secret once it has stopped verifying events. Secrets are identified by a
fingerprint (the first 12 hex digits of their SHA-256), never stored or shown themselves: a
fingerprint tells two configured secrets apart but does not help anyone sign a request.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from psycopg import sql
from psycopg_pool import ConnectionPool

DDL = """
CREATE TABLE IF NOT EXISTS eventlog.secret_usage (
    fingerprint text PRIMARY KEY,
    verified_count bigint NOT NULL,
    first_verified_at timestamptz NOT NULL,
    last_verified_at timestamptz NOT NULL
)
"""
RECORD_ROWS = """
INSERT INTO eventlog.secret_usage AS u
    (fingerprint, verified_count, first_verified_at, last_verified_at)
VALUES {rows}
ON CONFLICT (fingerprint) DO UPDATE
SET verified_count = u.verified_count + EXCLUDED.verified_count, last_verified_at = now()
"""
RECORD = RECORD_ROWS.format(rows="(%s, %s, now(), now())")
SELECT = """
SELECT fingerprint, verified_count, last_verified_at FROM eventlog.secret_usage
WHERE fingerprint = ANY(%s)
"""


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:12]


def counting(fingerprints: Iterable[str | None]) -> sql.Composed | None:
    """One statement adding up `fingerprints` (None: a record no secret verified), with the
    counts as literals so that it can share a round trip with other statements; None when
    there is nothing to count."""
    counts = Counter(fp for fp in fingerprints if fp is not None)
    if not counts:
        return None
    rows = sql.SQL(", ").join(
        sql.SQL("({}, {}, now(), now())").format(sql.Literal(fp), sql.Literal(n))
        for fp, n in counts.items()
    )
    return sql.SQL(RECORD_ROWS).format(rows=rows)


@dataclass(frozen=True)
class Usage:
    fingerprint: str
    verified_count: int
    last_verified_at: datetime | None


class SecretUsage:
    """Per-secret verification counts on a connection pool. Thread-safe."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def create_table(self) -> None:
        with self._pool.connection() as conn:
            conn.execute("CREATE SCHEMA IF NOT EXISTS eventlog")
            conn.execute(DDL)

    def record(self, secret_fingerprint: str, count: int = 1) -> None:
        with self._pool.connection() as conn:
            conn.execute(RECORD, (secret_fingerprint, count))

    def report(self, fingerprints: list[str]) -> list[Usage]:
        """Usage of each fingerprint, in the order given; never used: count 0, no time."""
        with self._pool.connection() as conn:
            found = {
                row[0]: Usage(row[0], int(row[1]), row[2])
                for row in conn.execute(SELECT, (fingerprints,)).fetchall()
            }
        return [found.get(fp, Usage(fp, 0, None)) for fp in fingerprints]
