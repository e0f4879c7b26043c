"""`billing-ledger replay`: the same history rebuilds the same tables, resumably, from domain
events or from the log; the swap is atomic and keeps every reader's privileges."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from billing_ledger import bootstrap
from billing_ledger.infra import roles
from billing_ledger.projections import rebuild
from tests.e2e.cli import cli_env
from tests.integration.test_convergence import history
from tests.pipeline import Pipeline


@pytest.fixture
def pipeline(database_url: str) -> Iterator[Pipeline]:
    opened = Pipeline(database_url)
    for document in history() + history(account="acct_Connected"):
        opened.deliver(document)
    opened.process_all()
    yield opened
    opened.close()


def replay(dsn: str, *args: str, processes: int = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing_ledger", "replay", *args],
        env=cli_env({"DATABASE_URL": dsn, "REPLAY_PROCESSES": str(processes)}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_replay_from_domain_events_rebuilds_identical_tables(pipeline: Pipeline) -> None:
    result = replay(pipeline.dsn, "--verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical:" in result.stdout
    assert "domain events projected into billing_rebuild" in result.stderr
    assert pipeline.tables("billing_rebuild") == pipeline.tables()
    [audited] = pipeline.query("SELECT action, outcome FROM billing.audit_log")
    assert audited == ("replay", "ok")


@pytest.mark.parametrize("processes", [1, 2])
def test_a_rebuild_in_one_or_two_processes_gives_the_live_tables(
    pipeline: Pipeline, processes: int
) -> None:
    # Two: the billing tables, MRR and payment facts in one child, the journal in another,
    # then MRR's recomputation, the balance check and the deferred indexes in the parent.
    result = replay(pipeline.dsn, "--verify", "--restart", processes=processes)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical:" in result.stdout
    assert pipeline.tables("billing_rebuild") == pipeline.tables()
    head = pipeline.query("SELECT max(notification_id) FROM eventstore.billing_events")
    positions = pipeline.query("SELECT DISTINCT position FROM billing_rebuild.projection_tracking")
    assert positions == head


def test_a_failing_rebuild_process_is_one_line_and_the_rerun_resumes(pipeline: Pipeline) -> None:
    with psycopg.connect(pipeline.dsn) as conn:
        rebuild.prepare(conn, "billing_rebuild", restart=True)
        conn.execute("ALTER TABLE billing_rebuild.journal_entries RENAME TO entries_elsewhere")
    failed = replay(pipeline.dsn, processes=2)
    assert failed.returncode == 2
    assert "Traceback" not in failed.stderr
    assert failed.stderr.strip().splitlines()[-1] == (
        "billing-ledger: rebuilding journal failed: UndefinedTable: relation "
        '"billing_rebuild.journal_entries" does not exist; fix the cause and run the same '
        "command again to resume"
    )
    with psycopg.connect(pipeline.dsn) as conn:
        conn.execute("ALTER TABLE billing_rebuild.entries_elsewhere RENAME TO journal_entries")
    resumed = replay(pipeline.dsn, "--verify", processes=2)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert pipeline.tables("billing_rebuild") == pipeline.tables()


def test_replay_from_the_log_rebuilds_the_aggregates_too(pipeline: Pipeline) -> None:
    result = replay(pipeline.dsn, "--from-log", "--verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "log records applied" in result.stderr
    assert pipeline.tables("billing_rebuild") == pipeline.tables()
    rebuilt_events = pipeline.query("SELECT count(*) FROM eventstore_rebuild.billing_events")
    assert rebuilt_events == pipeline.query("SELECT count(*) FROM eventstore.billing_events")


def test_verify_reports_differences_and_exits_non_zero(pipeline: Pipeline) -> None:
    assert replay(pipeline.dsn).returncode == 0
    pipeline.query_write("UPDATE billing.invoices SET total = total + 1")
    result = replay(pipeline.dsn, "--verify")
    assert result.returncode == 1
    assert "invoices" in result.stdout and "<- differs" in result.stdout


def test_an_interrupted_rebuild_resumes_where_it_stopped(pipeline: Pipeline) -> None:
    app = bootstrap.application(pipeline.dsn)
    try:
        with psycopg.connect(pipeline.dsn) as conn:
            rebuild.prepare(conn, "billing_rebuild", restart=False)
        projector = rebuild.projector(app, pipeline.pool, "billing_rebuild", pipeline.keys)
        with pipeline.pool.connection() as conn, conn.transaction():
            assert projector.project_batch(conn, limit=5) == 5  # then the process "dies"
    finally:
        app.close()
    result = replay(pipeline.dsn, "--verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert pipeline.tables("billing_rebuild") == pipeline.tables()


def test_a_rebuild_checks_every_entry_balances_and_turns_the_trigger_back_on(
    pipeline: Pipeline,
) -> None:
    # The rebuild holds the per-line balance trigger and checks the whole journal once at the
    # end: an entry that does not balance still fails it, with a one-line reason.
    assert replay(pipeline.dsn).returncode == 0
    enabled = "SELECT tgenabled FROM pg_trigger WHERE tgname = 'journal_lines_balance' AND "
    schema = "tgrelid = 'billing_rebuild.journal_lines'::regclass"
    assert pipeline.query(enabled + schema) == [("O",)]  # on, as in the live schema
    with psycopg.connect(pipeline.dsn) as conn:
        rebuild.check_balances(conn, "billing_rebuild")  # balanced
        conn.execute("ALTER TABLE billing_rebuild.journal_lines DISABLE TRIGGER USER")
        conn.execute(
            "INSERT INTO billing_rebuild.journal_lines SELECT gen_random_uuid(), account_id, "
            "livemode, entry_id, ledger_account, customer_id, 1, 0, currency "
            "FROM billing_rebuild.journal_lines LIMIT 1"
        )
        with pytest.raises(rebuild.UnbalancedJournal, match="does not balance in"):
            rebuild.check_balances(conn, "billing_rebuild")
        conn.rollback()


def test_swap_is_atomic_and_finance_still_reads(pipeline: Pipeline) -> None:
    bootstrap.app_role_dsn(pipeline.dsn)
    before = pipeline.tables()
    result = replay(pipeline.dsn, "--swap")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "swapped: billing_rebuild is now billing" in result.stdout
    assert pipeline.tables() == before
    retired = pipeline.query(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'billing_replaced_%%'"
    )
    assert len(retired) == 1
    audit = pipeline.query("SELECT action FROM billing.audit_log ORDER BY id")
    assert [row[0] for row in audit] == ["replay", "replay.swap"]  # the trail came along
    as_reader = _as_role(pipeline.dsn, roles.READER_ROLE)
    with psycopg.connect(as_reader) as conn:
        assert conn.execute("SELECT count(*) FROM billing.stripe_customers").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM billing.mrr_monthly").fetchone() is not None
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM billing.invoices")
    # The application's role owns the new tables, so projection goes on after the swap.
    with psycopg.connect(_as_role(pipeline.dsn, roles.APP_ROLE)) as conn:
        conn.execute(sql.SQL("UPDATE billing.projection_tracking SET position = position"))


def _as_role(dsn: str, role: str) -> str:
    params = conninfo_to_dict(dsn)
    params["user"] = role
    params.pop("password", None)
    return make_conninfo(**params)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "schema", ["eventlog", "billing", "eventstore_rebuild", "public", 'x"; DROP SCHEMA billing; --']
)
def test_replay_refuses_schemas_it_must_not_build_into(pipeline: Pipeline, schema: str) -> None:
    result = replay(pipeline.dsn, "--schema", schema, "--restart")
    assert result.returncode == 2
    assert "give a new lowercase name" in result.stderr
    assert pipeline.query("SELECT count(*) FROM eventlog.stripe_events")[0][0] > 0


def test_a_swap_from_the_log_waits_for_the_processor_to_stop(pipeline: Pipeline) -> None:
    stop = threading.Event()
    following = pipeline.log.follow(lambda _: None, stop)
    next(following)  # a processor holds the log
    try:
        result = replay(pipeline.dsn, "--from-log", "--swap")
    finally:
        stop.set()
        following.close()
    assert result.returncode == 2
    assert "a processor is following the log" in result.stderr
    assert pipeline.query("SELECT count(*) FROM pg_namespace WHERE nspname = 'eventstore'") == [
        (1,)
    ]


def test_a_rebuild_builds_every_index_of_the_live_schema(pipeline: Pipeline) -> None:
    with psycopg.connect(pipeline.dsn) as conn:
        rebuild.prepare(conn, "billing_rebuild", restart=True)
    with psycopg.connect(pipeline.dsn) as conn:
        during = {row[0] for row in conn.execute(INDEXES, ("billing_rebuild",))}
    assert not during & set(rebuild.BUILT_AFTER)  # loaded without them
    assert replay(pipeline.dsn, "--verify").returncode == 0
    with psycopg.connect(pipeline.dsn) as conn:
        live = {row[1] for row in conn.execute(INDEXES, ("billing",))}
        rebuilt = {row[1] for row in conn.execute(INDEXES, ("billing_rebuild",))}
    carried_over = " ON billing.audit_log "  # a record the rebuild does not have (CARRIED_OVER)
    assert rebuilt == {
        definition.replace(" ON billing.", " ON billing_rebuild.")
        for definition in live
        if carried_over not in definition
    }


INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s"
