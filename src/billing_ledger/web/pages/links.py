"""Signed, expiring links to the customer pages, and the sessions they open.

A link is `base64url(payload).base64url(HMAC-SHA256(secret, payload))`; the payload names the
customer, the Connect account ('' for the platform), livemode, the expiry (epoch seconds) and
the scope: `portal` (every page of the customer) or `pay:<intent id>` (that one intent's
payment page). A session cookie is the same token with a random nonce (its CSRF token is an
HMAC of the nonce), so no server-side state is kept. Verification is constant-time; a token
that is altered in any byte, signed with another secret, or past its expiry is refused with
`LinkRefused`, whose `reason` is `expired` or `invalid` (nothing else is revealed).

A payment link's expiry is derived from its intent's `created`, so the same intent always gets
the same link: the link is part of the `return_url` sent to Stripe under a derived idempotency
key, and a retried command must send Stripe exactly the same parameters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from billing_ledger.errors import BillingLedgerError

PAY_LINK_SECONDS = 7 * 24 * 3600
"""How long a payment link (the API's `confirmation_url`) lasts after its intent's creation."""
SESSION_SECONDS = 2 * 3600
"""A session lasts as long as its link, and at most this long."""
PORTAL = "portal"


class LinkRefused(BillingLedgerError):
    """A link or session token that is not valid now: `reason` is `expired` or `invalid`."""

    def __init__(self, reason: Literal["expired", "invalid"]) -> None:
        super().__init__(f"link {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Link:
    """Who a link (or session) is for, until when, and for what."""

    customer: str
    account: str
    livemode: bool
    expires: int
    scope: str = PORTAL
    nonce: str = ""

    def allows(self, intent_id: str) -> bool:
        """Whether this link may show the payment page of `intent_id` (of its customer)."""
        return self.scope in (PORTAL, f"pay:{intent_id}")


class LinkSigner:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("a link secret has at least 32 bytes")
        self._secret = secret

    def __repr__(self) -> str:  # never the secret
        return "LinkSigner()"

    def sign(self, link: Link) -> str:
        payload = json.dumps(
            {
                "c": link.customer,
                "a": link.account,
                "l": link.livemode,
                "e": link.expires,
                "s": link.scope,
                "n": link.nonce,
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(b'link', payload))}"

    def verify(self, token: str, now: float) -> Link:
        body, dot, mac = token.partition(".")
        if not dot or len(token) > 2048:
            raise LinkRefused("invalid")
        try:
            payload = _unb64(body)
            given = _unb64(mac)
        except ValueError:
            raise LinkRefused("invalid") from None
        if not hmac.compare_digest(given, self._mac(b"link", payload)):
            raise LinkRefused("invalid")
        try:
            fields = json.loads(payload)
            link = Link(
                str(fields["c"]),
                str(fields["a"]),
                bool(fields["l"]),
                int(fields["e"]),
                str(fields["s"]),
                str(fields["n"]),
            )
        except (ValueError, KeyError, TypeError):
            raise LinkRefused("invalid") from None
        if link.expires <= now:
            raise LinkRefused("expired")
        return link

    def session(self, link: Link, now: float) -> tuple[Link, str]:
        """A session opened by `link`: its cookie value's Link and the token."""
        opened = Link(
            link.customer,
            link.account,
            link.livemode,
            min(link.expires, int(now) + SESSION_SECONDS),
            link.scope,
            secrets.token_urlsafe(16),
        )
        return opened, self.sign(opened)

    def csrf_token(self, session: Link) -> str:
        return _b64(self._mac(b"csrf", session.nonce.encode()))

    def csrf_matches(self, session: Link, given: str | None) -> bool:
        return bool(session.nonce) and hmac.compare_digest(
            (given or "").encode(), self.csrf_token(session).encode()
        )

    def _mac(self, purpose: bytes, payload: bytes) -> bytes:
        return hmac.new(self._secret, purpose + b"\x1f" + payload, hashlib.sha256).digest()


def pay_link_expires(intent: Mapping[str, Any]) -> int:
    """When the intent's own payment link (its `confirmation_url`) expires."""
    created = intent.get("created")
    return (created if isinstance(created, int) else 0) + PAY_LINK_SECONDS


def intent_customer(intent: Mapping[str, Any]) -> str:
    customer = intent.get("customer")
    customer_id = customer.get("id") if isinstance(customer, dict) else customer
    return str(customer_id or "")


def pay_link(signer: LinkSigner, intent: Mapping[str, Any], account: str) -> str:
    """The token of `intent`'s payment page: the same for the same intent (see module doc)."""
    return signer.sign(
        Link(
            intent_customer(intent),
            account,
            bool(intent.get("livemode")),
            pay_link_expires(intent),
            f"pay:{intent['id']}",
        )
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or not text.isascii():
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as e:
        raise ValueError("not base64url") from e


class SignedPageLinks:
    """The customer pages' links under `public_base_url` (the `PageLinks` port of the
    services: their `confirmation_url`), and the portal's."""

    def __init__(self, public_base_url: str, signer: LinkSigner) -> None:
        self.public = public_base_url.rstrip("/")
        self.signer = signer

    def confirmation_url(self, intent: Mapping[str, Any], account: str) -> str:
        return f"{self.public}/pay/{intent['id']}?link={pay_link(self.signer, intent, account)}"

    def pay_url(
        self, intent_id: str, customer: str, account: str, livemode: bool, expires: int
    ) -> str:
        """A fresh link to one intent's payment page, expiring at `expires` (a new one each
        time, unlike `confirmation_url`: for an intent whose own link has expired)."""
        token = self.signer.sign(Link(customer, account, livemode, expires, f"pay:{intent_id}"))
        return f"{self.public}/pay/{intent_id}?link={token}"

    def portal_url(self, customer: str, account: str, livemode: bool, expires: int) -> str:
        token = self.signer.sign(Link(customer, account, livemode, expires, PORTAL))
        return f"{self.public}/portal/payment-methods?link={token}"
