"""Query parameters and cursors of the read API's lists.

A list is read in a unique order (its `Key`: columns ending in the row's id), one page at a
time: a page is the rows after the previous page's last key, so a cursor is that key and
nothing else. Rows inserted meanwhile land where their key sorts and never shift a page, so a
walk sees every row that existed when it began exactly once (and those inserted behind its
position not at all). The cursor is the key as base64url JSON, bound to the list's name: it
is opaque to callers and checked, not trusted, when it comes back.

Every parameter is parsed here, and every bad one is a `BadRequest` whose message names it and
says what is expected: the API answers it with 400.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from billing_ledger.errors import BillingLedgerError

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "BadRequest",
    "Key",
    "decode_cursor",
    "encode_cursor",
    "parse_account",
    "parse_as_of",
    "parse_currency",
    "parse_limit",
    "parse_livemode",
    "parse_moment",
    "parse_month",
    "parse_statuses",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
KeyKind = Literal["text", "bool", "date", "timestamp", "uuid"]

ACCOUNT = re.compile(r"^(acct_[A-Za-z0-9]+)?$")
CURRENCY = re.compile(r"^[A-Za-z]{3}$")
STATUS = re.compile(r"^[a-z_]+$")
MONTH = re.compile(r"^\d{4}-\d{2}$")


class BadRequest(BillingLedgerError):
    """A query parameter or cursor the API cannot use; the message says which and why."""


@dataclass(frozen=True)
class Key:
    """One column of a list's unique order: its SQL expression and the type it holds."""

    column: str
    kind: KeyKind


def parse_limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(f"limit: give a whole number from 1 to {MAX_LIMIT} (got {text!r})")
    return int(text)


def parse_livemode(text: str) -> bool:
    if text not in ("true", "false"):
        raise BadRequest(f"livemode: give true or false (got {text!r})")
    return text == "true"


def parse_account(text: str) -> str:
    if not ACCOUNT.match(text):
        raise BadRequest(
            f"account: give a Connect account id (acct_…), or nothing (account=) for the "
            f"platform's own (got {text!r})"
        )
    return text


def parse_currency(text: str) -> str:
    if not CURRENCY.match(text):
        raise BadRequest(f"currency: give a three-letter ISO code such as eur (got {text!r})")
    return text.lower()


def parse_statuses(text: str) -> tuple[str, ...]:
    statuses = tuple(text.split(","))
    if not all(STATUS.match(status) for status in statuses):
        raise BadRequest(f"status: give one or more statuses, comma-separated (got {text!r})")
    return statuses


def parse_moment(text: str, name: str) -> datetime:
    """An ISO date (its midnight, UTC) or date-time (UTC when it names no zone)."""
    try:
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadRequest(
            f"{name}: give an ISO date or date-time such as 2026-01-31 or "
            f"2026-01-31T12:00:00Z (got {text!r})"
        ) from None


def parse_as_of(text: str) -> datetime:
    """`parse_moment`, except that a date means the end of that day (as `ledger balances
    --as-of` reads it)."""
    moment = parse_moment(text, "as_of")
    if "T" in text or " " in text:
        return moment
    try:
        return moment + timedelta(days=1) - timedelta(microseconds=1)
    except OverflowError:
        return moment.replace(hour=23, minute=59, second=59, microsecond=999999)


def parse_month(text: str, name: str) -> date:
    """`2026-01` as the first day of that month."""
    try:
        if not MONTH.match(text):
            raise ValueError(text)
        return date.fromisoformat(f"{text}-01")
    except ValueError:
        raise BadRequest(f"{name}: give a month such as 2026-01 (got {text!r})") from None


def encode_cursor(listing: str, values: Sequence[Any]) -> str:
    document = [listing, [_plain(value) for value in values]]
    text = base64.urlsafe_b64encode(json.dumps(document, separators=(",", ":")).encode())
    return text.decode("ascii").rstrip("=")


def decode_cursor(listing: str, text: str, keys: Sequence[Key]) -> tuple[Any, ...]:
    """The key `text` was made from by `encode_cursor(listing, …)`, typed as `keys` say."""
    try:
        padded = text + "=" * (-len(text) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        name, values = document
        if name != listing or len(values) != len(keys):
            raise ValueError(name)
        return tuple(_typed(value, key.kind) for value, key in zip(values, keys, strict=True))
    except (ValueError, TypeError, UnicodeError, binascii.Error, RecursionError):
        raise BadRequest(
            "cursor: not one this list gave (pass next_cursor from the previous page as it is)"
        ) from None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def _typed(value: Any, kind: KeyKind) -> Any:
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "text" and isinstance(value, str) and "\x00" not in value:
        return value  # (PostgreSQL text cannot hold NUL)
    if kind in ("bool", "text") or not isinstance(value, str):
        raise TypeError(value)
    if kind == "uuid":
        return UUID(value)
    if kind == "date":
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value)  # kind == "timestamp"
    if moment.tzinfo is None:
        raise ValueError(value)
    return moment
