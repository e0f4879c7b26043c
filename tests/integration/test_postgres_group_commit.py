"""Group commit of the Postgres log: concurrent appends share transactions, and a failed
transaction answers every caller waiting on it (real PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait

import psycopg
import pytest

from billing_ledger import bootstrap
from billing_ledger.eventlog.port import LogUnavailable
from billing_ledger.eventlog.postgres import SCHEMA, TABLE, PostgresEventLog
from tests.integration.test_eventlog_contract import record

APPENDS = 40
WAIT_SECONDS = 60  # a bound on waiting for a condition, never a measured expectation


@pytest.fixture
def postgres_log(database_url: str) -> Iterator[PostgresEventLog]:
    opened = bootstrap.postgres_event_log(database_url)
    opened.open()
    yield opened
    opened.close()


def until(condition: Callable[[], bool]) -> None:
    done = threading.Event()
    for _ in range(WAIT_SECONDS * 20):
        if condition():
            return
        done.wait(0.05)
    raise AssertionError("condition not reached")


WAITING_WRITERS = (
    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
    "AND query LIKE 'LOCK TABLE%' AND datname = current_database()"
)


def writer_waits_for_the_lock(database_url: str) -> bool:
    # A fresh connection each time: pg_stat_activity is a snapshot per transaction.
    with psycopg.connect(database_url, autocommit=True) as conn:
        return bool(conn.execute(WAITING_WRITERS).fetchall())


def stored(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        return [row[0] for row in conn.execute(f"SELECT event_id FROM {SCHEMA}.{TABLE}")]


def test_concurrent_appends_share_transactions(
    postgres_log: PostgresEventLog, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as holder:
        # Hold the writer at the table lock so every other append queues up behind it.
        holder.execute("BEGIN")
        holder.execute(f"LOCK TABLE {SCHEMA}.{TABLE} IN EXCLUSIVE MODE")
        with ThreadPoolExecutor(APPENDS) as pool:
            futures = [pool.submit(postgres_log.append, record(0))]
            until(lambda: writer_waits_for_the_lock(database_url))
            futures += [pool.submit(postgres_log.append, record(n)) for n in range(1, APPENDS)]
            until(lambda: postgres_log.queued == APPENDS - 1)
            holder.execute("COMMIT")
            for future in futures:
                future.result(timeout=WAIT_SECONDS)
    assert postgres_log.commits == 2  # the first record alone, then the other 39 together
    assert sorted(stored(database_url)) == sorted(f"evt_{n}" for n in range(APPENDS))


def test_a_failed_transaction_answers_every_caller_in_it(
    postgres_log: PostgresEventLog, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute(f"LOCK TABLE {SCHEMA}.{TABLE} IN EXCLUSIVE MODE")
        with ThreadPoolExecutor(APPENDS) as pool:
            futures: list[Future[None]] = [
                pool.submit(postgres_log.append, record(n)) for n in range(APPENDS)
            ]
            # Kill the writer's connection whenever it waits for the lock: each batch fails.
            while not all(future.done() for future in futures):
                until(
                    lambda: (
                        writer_waits_for_the_lock(database_url)
                        or all(future.done() for future in futures)
                    )
                )
                with psycopg.connect(database_url, autocommit=True) as killer:
                    killer.execute(f"SELECT pg_terminate_backend(pid) FROM ({WAITING_WRITERS}) w")
            wait(futures, timeout=WAIT_SECONDS)
        holder.execute("COMMIT")
    for future in futures:
        assert isinstance(future.exception(timeout=0), LogUnavailable)
    assert postgres_log.commits == 0
    assert stored(database_url) == []
    # The log recovers on a fresh connection once the database answers again.
    postgres_log.append(record(APPENDS))
    assert stored(database_url) == [f"evt_{APPENDS}"]
