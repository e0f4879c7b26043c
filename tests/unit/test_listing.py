"""The read API's query parameters and cursors, without a database: every bad value is a
`BadRequest` with a message naming the parameter, and a cursor decodes to exactly the key it
was made from, or is refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_ledger.web.listing import (
    BadRequest,
    Key,
    decode_cursor,
    encode_cursor,
    parse_account,
    parse_as_of,
    parse_currency,
    parse_limit,
    parse_livemode,
    parse_moment,
    parse_month,
    parse_statuses,
)

KEYS = (
    Key("t.created_at", "timestamp"),
    Key("t.livemode", "bool"),
    Key("t.month", "date"),
    Key("t.account_id", "text"),
    Key("t.id", "uuid"),
)


def test_limit_defaults_and_bounds() -> None:
    assert parse_limit("1") == 1 and parse_limit("1000") == 1000
    for bad in ("0", "1001", "-3", "ten", "1.5", ""):
        with pytest.raises(BadRequest, match="limit"):
            parse_limit(bad)


def test_livemode_account_currency() -> None:
    assert (parse_livemode("true"), parse_livemode("false")) == (True, False)
    with pytest.raises(BadRequest, match="livemode"):
        parse_livemode("yes")
    assert parse_account("") == "" and parse_account("acct_1Abc") == "acct_1Abc"
    with pytest.raises(BadRequest, match="account"):
        parse_account("platform; DROP")
    assert parse_currency("EUR") == "eur"
    for bad in ("euro", "e1r", ""):
        with pytest.raises(BadRequest, match="currency"):
            parse_currency(bad)


def test_moments_and_months() -> None:
    assert parse_moment("2026-01-31", "since") == datetime(2026, 1, 31, tzinfo=UTC)
    assert parse_moment("2026-01-31T10:00:00", "since") == datetime(2026, 1, 31, 10, tzinfo=UTC)
    assert parse_moment("2026-01-31T10:00:00+02:00", "until") == datetime(
        2026, 1, 31, 8, tzinfo=UTC
    )
    for bad in ("31/01/2026", "0001-01-01T00:00:00+05:00"):
        with pytest.raises(BadRequest, match="until"):
            parse_moment(bad, "until")
    assert parse_month("2026-02", "from") == date(2026, 2, 1)
    for bad in ("2026-13", "2026", "feb", "2026-02-30"):
        with pytest.raises(BadRequest, match="to"):
            parse_month(bad, "to")


def test_statuses() -> None:
    assert parse_statuses("active,past_due") == ("active", "past_due")
    for bad in ("", "active,", "Active!"):
        with pytest.raises(BadRequest, match="status"):
            parse_statuses(bad)


key_values = st.tuples(
    st.datetimes(timezones=st.just(UTC)),
    st.booleans(),
    st.dates(),
    st.text(st.characters(exclude_characters="\x00")),  # PostgreSQL text holds no NUL
    st.uuids(),
)


@given(key_values)
def test_a_cursor_decodes_to_its_key(values: tuple[datetime, bool, date, str, UUID]) -> None:
    cursor = encode_cursor("invoices", values)
    assert cursor.isascii() and "=" not in cursor
    assert decode_cursor("invoices", cursor, KEYS) == values


@given(st.text())
def test_any_other_text_is_refused_as_a_cursor(text: str) -> None:
    with pytest.raises(BadRequest, match="cursor"):
        decode_cursor("invoices", text, KEYS)


def test_a_cursor_of_another_listing_or_shape_is_refused() -> None:
    values = (datetime(2026, 1, 1, tzinfo=UTC), True, date(2026, 1, 1), "", UUID(int=1))
    with pytest.raises(BadRequest, match="cursor"):
        decode_cursor("refunds", encode_cursor("invoices", values), KEYS)
    forged = base64.urlsafe_b64encode(json.dumps(["invoices", [1, 2]]).encode()).decode()
    with pytest.raises(BadRequest, match="cursor"):
        decode_cursor("invoices", forged.rstrip("="), KEYS)
    nul = ["invoices", ["2026-01-01T00:00:00+00:00", True, "2026-01-01", "a\x00", str(UUID(int=1))]]
    text = base64.urlsafe_b64encode(json.dumps(nul).encode()).decode().rstrip("=")
    with pytest.raises(BadRequest, match="cursor"):
        decode_cursor("invoices", text, KEYS)
    wrong_types = ["invoices", ["2026-01-01T00:00:00+00:00", "yes", "2026-01-01", "", "x"]]
    text = base64.urlsafe_b64encode(json.dumps(wrong_types).encode()).decode().rstrip("=")
    with pytest.raises(BadRequest, match="cursor"):
        decode_cursor("invoices", text, KEYS)


def test_as_of_a_date_is_the_end_of_that_day() -> None:
    assert parse_as_of("2026-01-31") == datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_as_of("2026-01-31T10:00:00Z") == datetime(2026, 1, 31, 10, tzinfo=UTC)
    assert parse_as_of("9999-12-31") == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    with pytest.raises(BadRequest, match="as_of"):
        parse_as_of("yesterday")
