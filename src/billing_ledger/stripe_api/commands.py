"""The command record: exactly once, and a record of what was asked (schema `ops`).

    ops.commands        one row per (caller, account, idempotency key): kind and fingerprint
    ops.command_events  what happened, appended: each Stripe request (step, operation, derived
                        key, Stripe's request id, object id, status or error code) and the one
                        outcome (HTTP status and answer)

Both are append-only (a trigger refuses UPDATE and DELETE). They hold ids, statuses and error
codes: never card data, secrets, client secrets or personal fields (the request itself is
kept as its fingerprint). `replay` never touches `ops`; `billing_reader` cannot read it.

`run` is exactly-once per key: concurrent duplicates serialise on an advisory lock of the
key (one Stripe call; the others then read the recorded outcome); a repeated key answers the
recorded outcome without calling Stripe; the same key with another body is refused
(`KeyReused`) before anything is sent. A command that did not finish (Stripe unavailable,
rate limited, a crash) has no outcome: running it again re-sends the same derived keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from billing_ledger.errors import BillingLedgerError
from billing_ledger.stripe_api.client import StripeAnswer, StripeApi
from billing_ledger.stripe_api.errors import FinalStripeError, StripeApiError
from billing_ledger.stripe_api.idempotency import derived_key, fingerprint

SCHEMA = "ops"
log = logging.getLogger(__name__)

CREATE_STATEMENTS = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.commands (
        id bigserial PRIMARY KEY,
        requested_at timestamptz NOT NULL DEFAULT now(),
        caller text NOT NULL,
        account_id text NOT NULL,
        idempotency_key text NOT NULL,
        kind text NOT NULL,
        fingerprint text NOT NULL,
        UNIQUE (caller, account_id, idempotency_key)
    )""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.command_events (
        id bigserial PRIMARY KEY,
        command_id bigint NOT NULL REFERENCES {SCHEMA}.commands (id),
        occurred_at timestamptz NOT NULL DEFAULT now(),
        kind text NOT NULL CHECK (kind IN ('stripe_request', 'outcome')),
        step text,
        operation text,
        stripe_idempotency_key text,
        stripe_request_id text,
        object_id text,
        status text,
        error_code text,
        http_status integer,
        answer jsonb
    )""",
    f"""CREATE UNIQUE INDEX IF NOT EXISTS command_events_one_outcome
        ON {SCHEMA}.command_events (command_id) WHERE kind = 'outcome'""",
    f"""CREATE OR REPLACE FUNCTION {SCHEMA}.refuse_change() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN
            RAISE EXCEPTION '%.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME;
        END $$""",
    f"""CREATE OR REPLACE TRIGGER commands_append_only BEFORE UPDATE OR DELETE
        ON {SCHEMA}.commands FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.refuse_change()""",
    f"""CREATE OR REPLACE TRIGGER command_events_append_only BEFORE UPDATE OR DELETE
        ON {SCHEMA}.command_events FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.refuse_change()""",
    f"REVOKE UPDATE, DELETE, TRUNCATE ON {SCHEMA}.commands, {SCHEMA}.command_events FROM PUBLIC",
)
CREATE_LOCK_KEY = 0x4F50_5343  # "OPSC": serialises concurrent first creations


class KeyReused(BillingLedgerError):
    """The idempotency key was used before for another request (kind or body)."""


@dataclass(frozen=True)
class Caller:
    """Who asks (an API token's name), for which Connect account ('' for the platform), under
    which idempotency key."""

    name: str
    idempotency_key: str
    account: str = ""


@dataclass(frozen=True)
class Outcome:
    """A command's answer: the HTTP status and body it is given, also when repeated."""

    status: int
    body: dict[str, Any]
    replayed: bool = False
    command_id: int | None = None
    private: dict[str, Any] = field(default_factory=dict)
    """Answered to the caller, never recorded: client secrets and Stripe's next actions."""

    def answer(self) -> dict[str, Any]:
        return {**self.body, **self.private}


@dataclass
class Steps:
    """The Stripe requests of one command, each under its derived key, each recorded."""

    stripe: StripeApi
    conn: psycopg.Connection[Any]
    command_id: int
    caller: Caller
    calls: list[str] = field(default_factory=list)

    @property
    def livemode(self) -> bool:
        return self.stripe.livemode

    def call(
        self,
        step: str,
        resource: str,
        method: str,
        *,
        id: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> StripeAnswer:
        """One write to Stripe as step `step` of this command (a name unique in the command)."""
        caller = self.caller
        key = derived_key(caller.name, caller.account, caller.idempotency_key, step)
        operation = f"{resource}.{method}"
        self.calls.append(step)
        try:
            answer = self.stripe.call(
                resource,
                method,
                id=id,
                params=params,
                idempotency_key=key,
                account=caller.account or None,
            )
        except StripeApiError as e:
            self._record(step, operation, key, e.request_id, None, "error", e.code)
            raise
        obj = answer.object
        self._record(step, operation, key, answer.request_id, obj.get("id"), obj.get("status"))
        return answer

    def read(self, resource: str, id: str) -> StripeAnswer:
        """A read (no key, nothing recorded): Stripe objects a command answers from."""
        return self.stripe.call(resource, "retrieve", id=id, account=self.caller.account or None)

    def _record(
        self,
        step: str,
        operation: str,
        key: str,
        request_id: str | None,
        object_id: Any,
        status: Any,
        error_code: str | None = None,
    ) -> None:
        self.conn.execute(
            f"INSERT INTO {SCHEMA}.command_events (command_id, kind, step, operation, "
            "stripe_idempotency_key, stripe_request_id, object_id, status, error_code) "
            "VALUES (%s, 'stripe_request', %s, %s, %s, %s, %s, %s, %s)",
            (
                self.command_id,
                step,
                operation,
                key,
                request_id,
                object_id if isinstance(object_id, str) else None,
                status if isinstance(status, str) else None,
                error_code,
            ),
        )


Execute = Callable[[Steps], Outcome]
Replay = Callable[[Steps, Outcome], Outcome]


class CommandRecord:
    """Runs commands exactly once per idempotency key and records them (see the module doc).

    `pool` must give autocommit connections: every record row commits as it is written, so a
    crash leaves the Stripe requests already made on record.
    """

    def __init__(self, pool: ConnectionPool, stripe: StripeApi) -> None:
        self._pool = pool
        self.stripe = stripe

    def create_tables(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (CREATE_LOCK_KEY,))
            for statement in CREATE_STATEMENTS:
                conn.execute(statement)

    def run(
        self,
        caller: Caller,
        kind: str,
        body: Mapping[str, Any],
        execute: Execute,
        replay: Replay | None = None,
    ) -> Outcome:
        """`execute` once for this caller's key; the recorded outcome for a repeated key
        (passed through `replay`, which may re-read what the record never holds)."""
        asked = fingerprint(kind, body)
        lock = f"command:{caller.name}:{caller.account}:{caller.idempotency_key}"
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (lock,))
            try:
                command_id, recorded = self._begin(conn, caller, kind, asked)
                steps = Steps(self.stripe, conn, command_id, caller)
                if recorded is not None:
                    return replay(steps, recorded) if replay else recorded
                try:
                    outcome = execute(steps)
                except FinalStripeError as e:
                    outcome = final_error_outcome(e)
                self._finish(conn, command_id, outcome)
                return Outcome(
                    outcome.status, outcome.body, command_id=command_id, private=outcome.private
                )
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (lock,))

    def _begin(
        self, conn: psycopg.Connection[Any], caller: Caller, kind: str, asked: str
    ) -> tuple[int, Outcome | None]:
        inserted = conn.execute(
            f"INSERT INTO {SCHEMA}.commands (caller, account_id, idempotency_key, kind, "
            "fingerprint) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            (caller.name, caller.account, caller.idempotency_key, kind, asked),
        ).fetchone()
        if inserted is not None:
            return int(inserted[0]), None
        found = conn.execute(
            f"SELECT id, kind, fingerprint FROM {SCHEMA}.commands "
            "WHERE caller = %s AND account_id = %s AND idempotency_key = %s",
            (caller.name, caller.account, caller.idempotency_key),
        ).fetchone()
        assert found is not None  # inserted before, and never deleted
        command_id, recorded_kind, recorded_fingerprint = found
        if (recorded_kind, recorded_fingerprint) != (kind, asked):
            raise KeyReused(
                "this Idempotency-Key was already used for a different request; "
                "use a new key for a new request"
            )
        outcome = conn.execute(
            f"SELECT http_status, answer FROM {SCHEMA}.command_events "
            "WHERE command_id = %s AND kind = 'outcome'",
            (command_id,),
        ).fetchone()
        if outcome is None:
            return int(command_id), None  # unfinished: run again under the same derived keys
        return int(command_id), Outcome(
            int(outcome[0]), dict(outcome[1]), replayed=True, command_id=int(command_id)
        )

    def _finish(self, conn: psycopg.Connection[Any], command_id: int, outcome: Outcome) -> None:
        body = outcome.body
        conn.execute(
            f"INSERT INTO {SCHEMA}.command_events (command_id, kind, object_id, status, "
            "error_code, http_status, answer) VALUES (%s, 'outcome', %s, %s, %s, %s, %s)",
            (
                command_id,
                body.get("id") if isinstance(body.get("id"), str) else None,
                body.get("status") if isinstance(body.get("status"), str) else None,
                body.get("code") if isinstance(body.get("code"), str) else None,
                outcome.status,
                Jsonb(body),
            ),
        )


def final_error_outcome(error: FinalStripeError) -> Outcome:
    """The recorded answer of a request Stripe refused for good (Stripe's message and codes)."""
    body: dict[str, Any] = {"error": error.message}
    if error.code:
        body["code"] = error.code
    decline_code = getattr(error, "decline_code", None)
    if decline_code:
        body["decline_code"] = decline_code
    param = getattr(error, "param", None)
    if param:
        body["param"] = param
    if error.request_id:
        body["stripe_request_id"] = error.request_id
    return Outcome(error.status, body)
