"""A fresh payment link for an intent whose own link (`confirmation_url`, valid 7 days from
the intent's creation) has expired or was lost: `POST /api/v1/payments/{pi}/pay_links` and
`billing-ledger pay-link pi_… [--expires 1h]`.

The intent is asked of Stripe: only one that still needs its customer (`requires_payment_method`,
`requires_confirmation`, `requires_action`) gets a link, for the intent's own customer, account
and livemode; a succeeded, canceled or processing intent is refused with its status, an unknown
one as not found. Each call signs a new link (its own expiry); nothing is recorded but the
API's audit line, and the link itself is never logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from billing_ledger.errors import BillingLedgerError
from billing_ledger.stripe_api.client import StripeApi
from billing_ledger.stripe_api.errors import FinalStripeError
from billing_ledger.web.pages.links import SignedPageLinks, intent_customer

PAYABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
MAX_SECONDS = 30 * 86400


class PayLinkRefused(BillingLedgerError):
    """No link for this intent: `status` is the HTTP status to answer (404, 409, 422)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class FreshPayLink:
    payment: str
    customer: str
    status: str
    livemode: bool
    expires_at: int
    url: str

    def body(self) -> dict[str, Any]:
        """What the API answers and records in the audit trail (not the url: it is private)."""
        return {
            "object": "pay_link",
            "payment": self.payment,
            "customer": self.customer,
            "status": self.status,
            "livemode": self.livemode,
            "expires_at": self.expires_at,
        }


class PayLinks:
    def __init__(
        self, stripe: StripeApi, links: SignedPageLinks, clock: Callable[[], float] = time.time
    ) -> None:
        self._stripe = stripe
        self._links = links
        self._clock = clock

    def mint(self, intent_id: str, account: str, expires_in: int) -> FreshPayLink:
        """A new link to `intent_id`'s payment page, valid `expires_in` seconds (PayLinkRefused
        when the intent is unknown or has nothing left to pay)."""
        if not 60 <= expires_in <= MAX_SECONDS:
            raise PayLinkRefused(422, "expires_in: from 60 seconds to 30 days")
        try:
            intent = self._stripe.call(
                "payment_intents", "retrieve", id=intent_id, account=account or None
            ).object
        except FinalStripeError as e:
            if e.status == 404:
                raise PayLinkRefused(404, f"no payment {intent_id} at Stripe") from None
            raise
        status = str(intent.get("status"))
        if status not in PAYABLE:
            raise PayLinkRefused(
                409, f"payment {intent_id} is {status}: there is nothing left to pay"
            )
        customer = intent_customer(intent)
        if not customer:
            raise PayLinkRefused(
                422, f"payment {intent_id} has no customer: the payment page is a customer's"
            )
        livemode = bool(intent.get("livemode"))
        expires = int(self._clock()) + expires_in
        url = self._links.pay_url(intent_id, customer, account, livemode, expires)
        return FreshPayLink(intent_id, customer, status, livemode, expires, url)
