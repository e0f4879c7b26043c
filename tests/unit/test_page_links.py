"""Signed links to the customer pages: who, until when, for what; nothing else gets in."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_ledger.web.pages.links import (
    PAY_LINK_SECONDS,
    SESSION_SECONDS,
    Link,
    LinkRefused,
    LinkSigner,
    pay_link,
)

SIGNER = LinkSigner(b"k" * 32)
NOW = 1_800_000_000
LINK = Link("cus_A", "", False, NOW + 3600)


def test_a_signed_link_verifies_to_what_it_names() -> None:
    assert SIGNER.verify(SIGNER.sign(LINK), NOW) == LINK


def test_an_expired_link_is_refused_as_expired() -> None:
    with pytest.raises(LinkRefused) as refused:
        SIGNER.verify(SIGNER.sign(LINK), NOW + 3600)
    assert refused.value.reason == "expired"


@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_any_altered_byte_makes_the_link_invalid(position: int, change: int) -> None:
    token = SIGNER.sign(LINK).encode()
    index = position % len(token)
    altered = token[:index] + bytes([(token[index] + change) % 256]) + token[index + 1 :]
    try:
        found = SIGNER.verify(altered.decode("latin-1"), NOW)
    except LinkRefused as e:
        assert e.reason == "invalid"
    else:  # base64 padding bits can change without changing the decoded bytes
        assert found == LINK


def test_another_secret_or_garbage_is_invalid() -> None:
    other = LinkSigner(b"o" * 32)
    for token in (other.sign(LINK), "", ".", "x.y", "a" * 5000, "é.é"):
        with pytest.raises(LinkRefused, match="invalid"):
            SIGNER.verify(token, NOW)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        LinkSigner(b"short")


def test_a_pay_link_allows_its_intent_only_and_is_the_same_each_time() -> None:
    intent = {"id": "pi_1", "customer": "cus_A", "livemode": False, "created": NOW}
    token = pay_link(SIGNER, intent, "acct_1")
    assert token == pay_link(SIGNER, dict(intent), "acct_1")
    link = SIGNER.verify(token, NOW)
    assert (link.customer, link.account, link.expires) == (
        "cus_A",
        "acct_1",
        NOW + PAY_LINK_SECONDS,
    )
    assert link.allows("pi_1") and not link.allows("pi_2")
    assert LINK.allows("pi_2")  # a portal link shows all of its customer's payments


def test_a_session_is_bounded_and_its_csrf_token_is_its_own() -> None:
    session, token = SIGNER.session(Link("cus_A", "", False, NOW + 10 * SESSION_SECONDS), NOW)
    assert session.expires == NOW + SESSION_SECONDS
    assert SIGNER.verify(token, NOW) == session
    csrf = SIGNER.csrf_token(session)
    assert SIGNER.csrf_matches(session, csrf)
    other, _ = SIGNER.session(LINK, NOW)
    assert not SIGNER.csrf_matches(other, csrf)
    assert not SIGNER.csrf_matches(session, None)
    assert not SIGNER.csrf_matches(LINK, SIGNER.csrf_token(LINK))  # a link is no session
