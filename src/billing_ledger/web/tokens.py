"""API tokens: bearer tokens with scopes, stored hashed in `ops.api_tokens`.

A token is `blt_` and 43 characters of `secrets.token_urlsafe(32)` (256 random bits), shown
once when created. Only its SHA-256 is stored (a high-entropy token needs no slow hash); it is
looked up by that hash and compared in constant time. Revoked tokens stay listed with the time
of their revocation and never authenticate again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from billing_ledger.errors import BillingLedgerError

PREFIX = "blt_"
SCOPES = ("customers:write", "payments:write", "subscriptions:write", "read")
"""`customers:write`: customers and their payment methods; `payments:write`: payments,
invoice payments and refunds; `subscriptions:write`: subscriptions (start, change, preview,
pause, cancel, resume, trials); `read`: GET endpoints."""

CREATE_STATEMENTS = (
    "CREATE SCHEMA IF NOT EXISTS ops",
    """CREATE TABLE IF NOT EXISTS ops.api_tokens (
        name text PRIMARY KEY,
        token_sha256 text NOT NULL UNIQUE,
        scopes text[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
    )""",
)
CREATE_LOCK_KEY = 0x4F50_5354  # "OPST"


class TokenError(BillingLedgerError):
    """A token cannot be created or revoked as asked; the message says why."""


@dataclass(frozen=True)
class ApiToken:
    name: str
    scopes: frozenset[str]
    created_at: datetime | None = None
    revoked_at: datetime | None = None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_scopes(text: str) -> frozenset[str]:
    scopes = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(scopes - set(SCOPES))
    if not scopes or unknown:
        raise TokenError(
            f"unknown scope(s) {', '.join(unknown) or '(none given)'}: choose from "
            + ", ".join(SCOPES)
        )
    return scopes


class TokenStore:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def create_table(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (CREATE_LOCK_KEY,))
            for statement in CREATE_STATEMENTS:
                conn.execute(statement)

    def create(self, name: str, scopes: Iterable[str]) -> str:
        """A new token named `name` (unique, also among revoked ones); returned once."""
        if not name or not name.isprintable() or len(name) > 100:
            raise TokenError("--name: give a short printable name, e.g. the calling service")
        token = PREFIX + secrets.token_urlsafe(32)
        try:
            with self._pool.connection() as conn:
                conn.execute(
                    "INSERT INTO ops.api_tokens (name, token_sha256, scopes) VALUES (%s, %s, %s)",
                    (name, digest(token), sorted(scopes)),
                )
        except psycopg.errors.UniqueViolation:
            raise TokenError(f"a token named {name!r} exists already (names are kept)") from None
        return token

    def revoke(self, name: str) -> None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "UPDATE ops.api_tokens SET revoked_at = now() "
                "WHERE name = %s AND revoked_at IS NULL RETURNING name",
                (name,),
            ).fetchone()
        if row is None:
            raise TokenError(f"no active token named {name!r}")

    def all(self) -> list[ApiToken]:
        with self._pool.connection() as conn:
            rows: list[Any] = conn.execute(
                "SELECT name, scopes, created_at, revoked_at FROM ops.api_tokens ORDER BY name"
            ).fetchall()
        return [ApiToken(r[0], frozenset(r[1]), r[2], r[3]) for r in rows]

    def authenticate(self, token: str) -> ApiToken | None:
        """The active token `token` is, or None."""
        if not token.startswith(PREFIX):
            return None
        wanted = digest(token)
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT name, scopes, token_sha256 FROM ops.api_tokens "
                "WHERE token_sha256 = %s AND revoked_at IS NULL",
                (wanted,),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[2], wanted):
            return None
        return ApiToken(row[0], frozenset(row[1]))
