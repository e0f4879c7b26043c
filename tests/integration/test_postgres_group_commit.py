"""Group commit of the Postgres log: concurrent appends share transactions, and a failed
transaction answers every caller waiting on it (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from billing_ledger import bootstrap
from billing_ledger.eventlog.port import LogUnavailable
from billing_ledger.eventlog.postgres import SCHEMA, TABLE, PostgresEventLog
from billing_ledger.eventlog.secret_usage import DDL as SECRET_USAGE_TABLE
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


def usage_of(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT fingerprint, verified_count FROM eventlog.secret_usage")
        return dict(rows.fetchall())


def create_usage_table(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SECRET_USAGE_TABLE)


@pytest.fixture
def counting_log(postgres_log: PostgresEventLog, database_url: str) -> PostgresEventLog:
    create_usage_table(database_url)
    postgres_log.count_secret_usage()
    return postgres_log


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


def test_coroutines_share_transactions_and_wait_on_their_loop(
    postgres_log: PostgresEventLog, database_url: str
) -> None:
    """`append_async` queues onto the same writer and is answered on the caller's loop, with
    no worker thread per call: a batch of coroutines is one transaction."""

    async def append_all(holder: psycopg.Connection[Any]) -> None:
        first = asyncio.ensure_future(postgres_log.append_async(record(0)))
        await asyncio.to_thread(until, lambda: writer_waits_for_the_lock(database_url))
        rest = [asyncio.ensure_future(postgres_log.append_async(record(n))) for n in range(1, 40)]
        await asyncio.to_thread(until, lambda: postgres_log.queued == APPENDS - 1)
        threads = threading.active_count()
        holder.execute("COMMIT")
        await asyncio.wait_for(asyncio.gather(first, *rest), WAIT_SECONDS)
        assert threading.active_count() <= threads  # none started to wait for the answers

    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute(f"LOCK TABLE {SCHEMA}.{TABLE} IN EXCLUSIVE MODE")
        asyncio.run(append_all(holder))
    assert postgres_log.commits == 2
    assert sorted(stored(database_url)) == sorted(f"evt_{n}" for n in range(APPENDS))


def test_a_failed_transaction_fails_every_coroutine_in_it(
    postgres_log: PostgresEventLog, database_url: str
) -> None:
    async def append_while_down() -> list[BaseException | None]:
        appends = [postgres_log.append_async(record(n)) for n in range(5)]
        return await asyncio.gather(*appends, return_exceptions=True)

    with psycopg.connect(database_url, autocommit=True) as admin:
        # The log's table gone (as a failing database would fail the transaction): every
        # caller of the batch hears of it; none is left waiting.
        admin.execute(f"ALTER TABLE {SCHEMA}.{TABLE} RENAME TO moved_away")
        try:
            outcomes = asyncio.run(append_while_down())
        finally:
            admin.execute(f"ALTER TABLE {SCHEMA}.moved_away RENAME TO {TABLE}")
    assert all(isinstance(outcome, LogUnavailable) for outcome in outcomes)
    assert stored(database_url) == []


def test_a_coroutine_that_stops_waiting_leaves_the_others_answered(
    postgres_log: PostgresEventLog, database_url: str
) -> None:
    """A webhook whose log timeout fired is cancelled; its record may still land (the port
    allows it), and the batch's other callers are answered as usual."""

    async def one_gives_up(holder: psycopg.Connection[Any]) -> None:
        gives_up = asyncio.ensure_future(postgres_log.append_async(record(0)))
        waits = asyncio.ensure_future(postgres_log.append_async(record(1)))
        await asyncio.to_thread(until, lambda: writer_waits_for_the_lock(database_url))
        gives_up.cancel()
        holder.execute("COMMIT")
        await asyncio.wait_for(waits, WAIT_SECONDS)
        assert gives_up.cancelled()

    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute(f"LOCK TABLE {SCHEMA}.{TABLE} IN EXCLUSIVE MODE")
        asyncio.run(one_gives_up(holder))
    assert "evt_1" in stored(database_url)


def test_a_counting_log_stores_each_secrets_count_in_the_batch_that_stores_its_records(
    counting_log: PostgresEventLog, database_url: str
) -> None:
    verified_by = ["fp_old000000"] * 3 + ["fp_new000000"] * 2 + [None]  # None: a backfill's

    async def append_all(holder: psycopg.Connection[Any]) -> None:
        first = asyncio.ensure_future(counting_log.append_async(record(0)))
        await asyncio.to_thread(until, lambda: writer_waits_for_the_lock(database_url))
        rest = [
            asyncio.ensure_future(counting_log.append_async(replace(record(n), verified_with=fp)))
            for n, fp in enumerate(verified_by, start=1)
        ]
        await asyncio.to_thread(until, lambda: counting_log.queued == len(verified_by))
        holder.execute("COMMIT")
        await asyncio.wait_for(asyncio.gather(first, *rest), WAIT_SECONDS)

    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute(f"LOCK TABLE {SCHEMA}.{TABLE} IN EXCLUSIVE MODE")
        asyncio.run(append_all(holder))
    assert counting_log.commits == 2
    assert usage_of(database_url) == {"0123456789ab": 1, "fp_old000000": 3, "fp_new000000": 2}


def test_a_failed_append_counts_none_of_its_records(
    counting_log: PostgresEventLog, database_url: str
) -> None:
    counting_log.append(record(0))
    # Refused by the table itself (event_id NOT NULL) after the usage upsert has run: the
    # transaction that would have counted it is rolled back with it.
    refused = replace(record(1), event_id=None)  # type: ignore[arg-type]
    with pytest.raises(LogUnavailable):
        counting_log.append(refused)
    assert usage_of(database_url) == {"0123456789ab": 1}
    assert stored(database_url) == ["evt_0"]


def test_a_log_that_does_not_count_leaves_the_usage_to_the_endpoint(
    postgres_log: PostgresEventLog, database_url: str
) -> None:
    create_usage_table(database_url)
    postgres_log.append(record(0))
    assert usage_of(database_url) == {}
