"""What MRR reads besides its snapshots: the definition its schema is built with, and "now",
the latest event applied per scope (Stripe's `created`, never the clock).

Under a definition that depends on time (`past_due_<N>d`), a customer's MRR can change with no
event of its own: each time a scope's latest event reaches a new day, the customers that were
ever `past_due` there are recomputed.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from billing_ledger.projections.mrr_definitions import DAY, MrrDefinition, parse
from billing_ledger.projections.sqltext import in_schema

log = logging.getLogger(__name__)
Cursor = psycopg.Cursor[Any]
Scope = tuple[str, bool]  # (account_id, livemode)

ADVANCE = """
INSERT INTO {schema}.mrr_clock AS c (account_id, livemode, last_created) VALUES (%s, %s, %s)
ON CONFLICT (account_id, livemode) DO UPDATE SET last_created = EXCLUDED.last_created
WHERE c.last_created < EXCLUDED.last_created
RETURNING (SELECT last_created FROM {schema}.mrr_clock
           WHERE account_id = %s AND livemode = %s)
"""
EVER_PAST_DUE = (
    "SELECT DISTINCT customer_id FROM {schema}.mrr_points "
    "WHERE account_id = %s AND livemode = %s AND status = 'past_due'"
)


def definition_of(cur: Cursor, schema: str) -> MrrDefinition:
    """The definition `schema` is built with."""
    row = cur.execute(in_schema("SELECT name FROM {schema}.mrr_definition", schema)).fetchone()
    return parse(row[0]) if row else parse("stripe")


def record_definition(
    conn: psycopg.Connection[Any], schema: str, definition: MrrDefinition
) -> None:
    """Build `schema`'s MRR under `definition` (before anything is projected into it)."""
    conn.execute(
        in_schema("UPDATE {schema}.mrr_definition SET name = %s", schema), (definition.name,)
    )


def adopt_definition(
    conn: psycopg.Connection[Any], schema: str, wanted: MrrDefinition
) -> MrrDefinition:
    """The definition `schema`'s MRR goes on under: `wanted` (MRR_DEFINITION) at once while
    no subscription has been projected into it, else the one it was built with, saying that
    `wanted` waits for `replay --swap` (changing it midway would mix two definitions)."""
    live = definition_of(conn.cursor(), schema)
    if live == wanted:
        return live
    started = conn.execute(
        in_schema("SELECT EXISTS (SELECT 1 FROM {schema}.mrr_points)", schema)
    ).fetchone()
    if started and started[0]:
        log.warning(
            "MRR_DEFINITION=%s differs from the live MRR definition %s: it takes effect "
            "with `billing-ledger replay --swap`",
            wanted.name,
            live.name,
        )
        return live
    record_definition(conn, schema, wanted)
    return wanted


class MrrClock:
    """The batch's latest event per scope, written at flush; read back as `as_of`."""

    def __init__(self, schema: str) -> None:
        self._schema = schema
        self._latest: dict[Scope, int] = {}

    def saw(self, scope: Scope, created: int) -> None:
        self._latest[scope] = max(created, self._latest.get(scope, created))

    def advance(self, cur: Cursor, definition: MrrDefinition) -> set[tuple[str, bool, str]]:
        """Write the batch's latest events; the customers whose MRR the passing time may have
        changed (none unless the definition depends on time)."""
        stale: set[tuple[str, bool, str]] = set()
        for scope, created in sorted(self._latest.items()):
            row = cur.execute(
                in_schema(ADVANCE, self._schema), (*scope, created, *scope)
            ).fetchone()
            before = row[0] if row else None
            crossed_a_day = row is not None and (before is None or before // DAY < created // DAY)
            if definition.depends_on_time and crossed_a_day:
                stale |= {
                    (*scope, customer)
                    for (customer,) in cur.execute(
                        in_schema(EVER_PAST_DUE, self._schema), scope
                    ).fetchall()
                }
        self._latest.clear()
        return stale

    def as_of(self, cur: Cursor, scope: Scope) -> int | None:
        """Just after the scope's latest event (exclusive bound), or None before any."""
        row = cur.execute(
            in_schema(
                "SELECT last_created FROM {schema}.mrr_clock "
                "WHERE account_id = %s AND livemode = %s",
                self._schema,
            ),
            scope,
        ).fetchone()
        return int(row[0]) + 1 if row else None
