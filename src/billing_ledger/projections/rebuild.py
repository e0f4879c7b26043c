"""Rebuilding the read schema beside the live one, comparing the two, and swapping them.

A rebuild writes into its own schema (`billing_rebuild` by default) while `billing` keeps
serving; its projection positions live inside it, so an interrupted rebuild resumes where it
stopped. The swap moves the tables in one transaction: readers see the old tables or the new
ones, never a mix, and keep every privilege they had (schema, tables, views, defaults).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from billing_ledger.errors import BillingLedgerError
from billing_ledger.processing.application import BillingApplication
from billing_ledger.projections.catalog import read_projections
from billing_ledger.projections.migrations import migrate, migration_files
from billing_ledger.projections.mrr import MrrProjection
from billing_ledger.projections.projector import Projector
from billing_ledger.projections.reveal import KeyLookup

__all__ = [
    "Projector",
    "TableDiff",
    "catch_up",
    "compare",
    "copy_privileges",
    "prepare",
    "projector",
    "swap",
]

# Indexes that serve finance's queries and none of the projections': a new rebuild schema is
# loaded without them and they are built once over the final rows (cheaper than maintaining
# them through every upsert); their definitions wait in DEFERRED_INDEXES meanwhile.
BUILT_AFTER = (
    "subscriptions_customer_id",
    "invoices_customer_id",
    "invoices_subscription_id",
    "invoices_status",
    "payment_transactions_customer_id",
    "payment_transactions_status_created",
    "refunds_payment_transaction_id",
    "payment_methods_customer_id",
    "journal_lines_customer_id",
    "journal_lines_account_currency",
    # the read API's list orders (0010_read_api_orders.sql)
    "stripe_customers_created_at_id",
    "subscriptions_created_at_id",
    "invoices_created_at_id",
    "payment_transactions_created_at_id",
    "refunds_created_at_id",
    "disputes_created_at_id",
    "journal_entries_occurred_at_id",
)
DEFERRED_INDEXES = "rebuild_deferred_indexes"
# A rebuild's batches: the same projection code as live batches, over ten times as many domain
# events, so that each aggregate's row is written once per batch rather than once per live
# batch it appears in, and the per-batch reads and writes are paid a tenth as often.
REBUILD_BATCH_SIZE = 5_000
# Tables of the live schema that are records, not projections: a swap leaves them in place.
CARRIED_OVER = ("audit_log",)
NOT_COMPARED = ("schema_migrations", "projection_tracking", DEFERRED_INDEXES, *CARRIED_OVER)

UNBALANCED = (
    "SELECT entry_id, currency, sum(debit_cents - credit_cents) FROM {}.journal_lines "
    "GROUP BY entry_id, currency HAVING sum(debit_cents - credit_cents) <> 0 LIMIT 1"
)

Connection = psycopg.Connection[Any]
GRANTEE = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END"
Progress = Callable[[int], None]  # told how many notifications were just projected


class UnbalancedJournal(BillingLedgerError):
    """A rebuilt journal entry whose lines do not balance (the rules of ledger/ broke)."""


@dataclass(frozen=True)
class TableDiff:
    table: str
    live_rows: int
    rebuilt_rows: int
    only_live: int
    only_rebuilt: int

    @property
    def identical(self) -> bool:
        return self.only_live == 0 and self.only_rebuilt == 0


def projector(
    app: BillingApplication,
    pool: Any,
    schema: str,
    keys: KeyLookup,
    names: Sequence[str] | None = None,
) -> Projector:
    """The projections of a rebuild into `schema` (MRR recomputed once, by `project_all`), or
    those of them in `names`, in batches of REBUILD_BATCH_SIZE domain events."""
    projections = [
        projection
        for projection in read_projections(schema, keys, rebuilding=True)
        if names is None or projection.name in names
    ]
    found = Projector(app, pool, schema, projections, REBUILD_BATCH_SIZE)
    found.create_tables()
    return found


def prepare(conn: Connection, schema: str, restart: bool) -> None:
    """Create (or, with `restart`, recreate) the rebuild schema with the current migrations;
    a new one without its finance-only indexes (BUILT_AFTER), which `project_all` builds once
    the rows are in."""
    if restart:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    created = migrate(conn, schema)
    if created and created[0] == migration_files()[0][0]:
        _defer_indexes(conn, schema)


def _defer_indexes(conn: Connection, schema: str) -> None:
    """Drop `schema`'s BUILT_AFTER indexes, keeping their definitions in DEFERRED_INDEXES (so
    an interrupted rebuild still builds them when it resumes)."""
    ident = sql.Identifier
    deferred = sql.SQL("{}.{}").format(ident(schema), ident(DEFERRED_INDEXES))
    conn.execute(
        sql.SQL("CREATE TABLE {} (name text PRIMARY KEY, definition text NOT NULL)").format(
            deferred
        )
    )
    found = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s "
        "AND indexname = ANY(%s) ORDER BY indexname",
        (schema, list(BUILT_AFTER)),
    ).fetchall()
    for name, definition in found:
        conn.execute(sql.SQL("INSERT INTO {} VALUES (%s, %s)").format(deferred), (name, definition))
        conn.execute(sql.SQL("DROP INDEX {}.{}").format(ident(schema), ident(name)))


def build_deferred_indexes(conn: Connection, schema: str) -> None:
    """Build the indexes `prepare` left out, if any are still to build."""
    ident = sql.Identifier
    found = conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."{DEFERRED_INDEXES}"',))
    row = found.fetchone()
    if row is None or row[0] is None:
        return
    deferred = sql.SQL("{}.{}").format(ident(schema), ident(DEFERRED_INDEXES))
    for (definition,) in conn.execute(
        sql.SQL("SELECT definition FROM {} ORDER BY name").format(deferred)
    ).fetchall():
        conn.execute(definition.encode())  # pg_indexes' own CREATE INDEX, schema-qualified
    conn.execute(sql.SQL("DROP TABLE {}").format(deferred))


def catch_up(found: Projector, progress: Progress) -> None:
    """Run `found` until it has caught up with the notification log."""
    while done := found.run_once():
        progress(done)


def project_all(
    found: Projector,
    pool: Any,
    progress: Progress,
    caught_up: Callable[[Progress], None] | None = None,
) -> None:
    """Run the projector until it has caught up with the notification log (or `caught_up`,
    which catches its projections up otherwise: in processes of their own), then derive what
    deferred projections left for the end; batches projected later (a swap's catch-up) are
    complete again, as live batches are.

    The journal's balance trigger (one query per line at each commit) is held meanwhile and
    every entry's balance checked once at the end, by one query over the whole journal, before
    the trigger is on again: an unbalanced entry fails the rebuild as it failed its batch."""
    with pool.connection() as conn, conn.transaction():
        _balance_trigger(conn, found.schema, enabled=False)
    if caught_up is None:
        catch_up(found, progress)
    else:
        caught_up(progress)
    for projection in found.projections:
        if isinstance(projection, MrrProjection) and projection.deferred:
            with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                projection.recompute_all(cur)
            projection.deferred = False
    with pool.connection() as conn, conn.transaction():
        check_balances(conn, found.schema)
        _balance_trigger(conn, found.schema, enabled=True)
        build_deferred_indexes(conn, found.schema)


def check_balances(conn: Connection, schema: str) -> None:
    """Raise UnbalancedJournal naming the first entry of `schema` whose lines do not balance
    in a currency (what the balance trigger checks of each statement's entries)."""
    row = conn.execute(sql.SQL(UNBALANCED).format(sql.Identifier(schema))).fetchone()
    if row is not None:
        entry, currency, difference = row
        raise UnbalancedJournal(
            f"journal entry {entry} does not balance in {currency}: debits - credits = {difference}"
        )


def _balance_trigger(conn: Connection, schema: str, *, enabled: bool) -> None:
    conn.execute(
        sql.SQL("ALTER TABLE {}.journal_lines {} TRIGGER journal_lines_balance").format(
            sql.Identifier(schema), sql.SQL("ENABLE" if enabled else "DISABLE")
        )
    )


def compare(conn: Connection, live: str, rebuilt: str) -> list[TableDiff]:
    """Row-by-row comparison of every table the rebuild has, by value (EXCEPT ALL)."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "AND table_type = 'BASE TABLE' ORDER BY table_name",
            (rebuilt,),
        )
        if row[0] not in NOT_COMPARED
    ]
    diffs = []
    for table in tables:
        a = sql.SQL("{}.{}").format(sql.Identifier(live), sql.Identifier(table))
        b = sql.SQL("{}.{}").format(sql.Identifier(rebuilt), sql.Identifier(table))
        counts = conn.execute(
            sql.SQL(
                "SELECT (SELECT count(*) FROM {a}), (SELECT count(*) FROM {b}), "
                "(SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) x), "
                "(SELECT count(*) FROM (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a}) y)"
            ).format(a=a, b=b)
        ).fetchone()
        assert counts is not None
        diffs.append(TableDiff(table, *(int(c) for c in counts)))
    return diffs


def lock_live_positions(conn: Connection, live: str) -> None:
    """Inside the swap transaction: wait for live projectors' batches, and hold the next ones."""
    conn.execute(
        sql.SQL("LOCK TABLE {}.projection_tracking IN EXCLUSIVE MODE").format(sql.Identifier(live))
    )


def swap(conn: Connection, live: str, rebuilt: str, retired: str) -> None:
    """Inside the caller's transaction: give `rebuilt`'s objects the live ones' owners and
    privileges, move the live objects to a new schema `retired` and the rebuilt ones into
    `live`, then drop the emptied `rebuilt`.

    Objects move, not schemas, so that the record tables (CARRIED_OVER) never move: the audit
    trail belongs to the role that bootstrapped the database, which the application's role
    (running the swap) cannot alter. The live schema keeps its own grants and defaults.
    """
    match_owners(conn, live, rebuilt)
    copy_privileges(conn, live, rebuilt)
    ident = sql.Identifier
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident(retired)))
    _move_objects(conn, live, retired, keep=CARRIED_OVER)
    _move_objects(conn, rebuilt, live)
    conn.execute(sql.SQL("DROP SCHEMA {}").format(ident(rebuilt)))


def _move_objects(conn: Connection, source: str, target: str, keep: tuple[str, ...] = ()) -> None:
    """Move `source`'s tables (with their indexes, triggers and owned sequences), views,
    free-standing sequences and functions to `target`, except the tables named in `keep` and
    the functions their triggers call.

    References between them are by object id (and the journal's SQL functions have parsed
    bodies, see migration 0005), so they follow the move."""
    relations = conn.execute(
        "SELECT c.relname, c.relkind FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'S') "
        "AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d "
        "WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))",
        (source,),
    ).fetchall()
    kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
    ident = sql.Identifier
    for name, kind in relations:
        if name in keep:
            continue
        conn.execute(
            sql.SQL("ALTER {} {}.{} SET SCHEMA {}").format(
                sql.SQL(kinds[kind]), ident(source), ident(name), ident(target)
            )
        )
    # Functions the kept tables' triggers call stay with them.
    functions = conn.execute(
        "SELECT p.proname, pg_get_function_identity_arguments(p.oid), p.prokind FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %(schema)s "
        "AND p.oid NOT IN (SELECT t.tgfoid FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace "
        "WHERE cn.nspname = %(schema)s AND c.relname = ANY(%(keep)s))",
        {"schema": source, "keep": list(keep)},
    ).fetchall()
    for name, arguments, kind in functions:
        conn.execute(
            sql.SQL("ALTER {} {}.{}({}) SET SCHEMA {}").format(
                sql.SQL("PROCEDURE" if kind == "p" else "FUNCTION"),
                ident(source),
                ident(name),
                sql.SQL(arguments),
                ident(target),
            )
        )


def match_owners(conn: Connection, source: str, target: str) -> None:
    """Make `target` and its relations belong to whoever owns their `source` counterparts (the
    schema's owner for relations `source` lacks), so the application can keep writing after a
    swap even when the rebuild ran as another role."""
    ident = sql.Identifier
    owner = conn.execute(
        "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = %s", (source,)
    ).fetchone()
    if owner is None:
        return
    conn.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(ident(target), _role(owner[0])))
    relations = conn.execute(
        "SELECT c.relname, c.relkind, coalesce(s.relowner, n.nspowner)::regrole::text "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_class s ON s.relname = c.relname AND s.relnamespace = "
        "(SELECT oid FROM pg_namespace WHERE nspname = %s) "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p')",
        (source, target),
    ).fetchall()
    kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW"}
    for relation, kind, relation_owner in relations:
        conn.execute(
            sql.SQL("ALTER {} {}.{} OWNER TO {}").format(
                sql.SQL(kinds[kind]), ident(target), ident(relation), _role(relation_owner)
            )
        )


def copy_privileges(conn: Connection, source: str, target: str) -> None:
    """Grant on `target` what is granted on `source`: schema, same-named relations, defaults."""
    ident = sql.Identifier
    schema_grants = conn.execute(
        f"SELECT {GRANTEE}, a.privilege_type FROM pg_namespace n, aclexplode(n.nspacl) a "
        "WHERE n.nspname = %s AND a.grantee <> n.nspowner",
        (source,),
    ).fetchall()
    for grantee, privilege in schema_grants:
        conn.execute(
            sql.SQL("GRANT {} ON SCHEMA {} TO {}").format(
                sql.SQL(privilege), ident(target), _role(grantee)
            )
        )
    relation_grants = conn.execute(
        f"SELECT c.relname, {GRANTEE}, a.privilege_type "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
        "aclexplode(c.relacl) a WHERE n.nspname = %s AND a.grantee <> c.relowner "
        "AND EXISTS (SELECT 1 FROM pg_class t JOIN pg_namespace tn ON tn.oid = t.relnamespace "
        "WHERE tn.nspname = %s AND t.relname = c.relname)",
        (source, target),
    ).fetchall()
    for relation, grantee, privilege in relation_grants:
        conn.execute(
            sql.SQL("GRANT {} ON {}.{} TO {}").format(
                sql.SQL(privilege), ident(target), ident(relation), _role(grantee)
            )
        )
    defaults = conn.execute(
        f"SELECT d.defaclrole::regrole::text, d.defaclobjtype, {GRANTEE}, a.privilege_type "
        "FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace, "
        "aclexplode(d.defaclacl) a WHERE n.nspname = %s",
        (source,),
    ).fetchall()
    kinds = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES"}
    for owner, kind, grantee, privilege in defaults:
        if kind in kinds:
            conn.execute(
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT {} ON {} TO {}"
                ).format(
                    _role(owner),
                    ident(target),
                    sql.SQL(privilege),
                    sql.SQL(kinds[kind]),
                    _role(grantee),
                )
            )


def _role(name: str) -> sql.Composable:
    return sql.SQL("PUBLIC") if name == "PUBLIC" else sql.Identifier(name.strip('"'))
