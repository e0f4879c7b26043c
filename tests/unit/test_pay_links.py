"""Fresh pay links: which intents get one, for whom, until when (Stripe faked, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from billing_ledger.stripe_api.client import StripeAnswer
from billing_ledger.stripe_api.errors import InvalidRequest, StripeUnavailable
from billing_ledger.web.pages.links import LinkSigner, SignedPageLinks
from billing_ledger.web.pages.pay_links import PayLinkRefused, PayLinks

SIGNER = LinkSigner(b"k" * 32)
NOW = 1_800_000_000


class Intents:
    def __init__(self, **intents: dict[str, Any]) -> None:
        self.intents = intents
        self.down = False

    @property
    def livemode(self) -> bool:
        return False

    def call(
        self,
        resource: str,
        method: str,
        *,
        id: str | None = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        account: str | None = None,
    ) -> StripeAnswer:
        assert (resource, method, idempotency_key) == ("payment_intents", "retrieve", None)
        if self.down:
            raise StripeUnavailable("Stripe is unavailable")
        if id not in self.intents:
            raise InvalidRequest(f"No such payment_intent: '{id}'", code="resource_missing")
        return StripeAnswer({"id": id, "livemode": False, **self.intents[id]})


def links(stripe: Intents) -> PayLinks:
    return PayLinks(stripe, SignedPageLinks("https://pay.example", SIGNER), lambda: NOW)


@pytest.mark.parametrize(
    "status", ["requires_payment_method", "requires_confirmation", "requires_action"]
)
def test_an_intent_that_still_needs_paying_gets_a_link_for_its_customer(status: str) -> None:
    stripe = Intents(pi_1={"status": status, "customer": {"id": "cus_1"}})
    made = links(stripe).mint("pi_1", "acct_1", 3600)
    assert (made.customer, made.status, made.expires_at) == ("cus_1", status, NOW + 3600)
    token = made.url.removeprefix("https://pay.example/pay/pi_1?link=")
    link = SIGNER.verify(token, NOW)
    assert (link.customer, link.account, link.scope, link.expires) == (
        "cus_1",
        "acct_1",
        "pay:pi_1",
        NOW + 3600,
    )
    assert "url" not in made.body() and made.body()["object"] == "pay_link"


@pytest.mark.parametrize(
    ("intents", "status", "said"),
    [
        ({"status": "succeeded", "customer": "cus_1"}, 409, "is succeeded: there is nothing"),
        ({"status": "canceled", "customer": "cus_1"}, 409, "is canceled"),
        ({"status": "processing", "customer": "cus_1"}, 409, "is processing"),
        ({"status": "requires_payment_method", "customer": None}, 422, "has no customer"),
    ],
)
def test_no_link_for_an_intent_with_nothing_to_pay_or_no_customer(
    intents: dict[str, Any], status: int, said: str
) -> None:
    with pytest.raises(PayLinkRefused, match=said) as refused:
        links(Intents(pi_1=intents)).mint("pi_1", "", 3600)
    assert refused.value.status == status


def test_unknown_intents_bad_expiries_and_an_unavailable_stripe() -> None:
    stripe = Intents()
    with pytest.raises(PayLinkRefused, match="no payment pi_9 at Stripe") as unknown:
        links(stripe).mint("pi_9", "", 3600)
    assert unknown.value.status == 404
    for seconds in (59, 30 * 86400 + 1):
        with pytest.raises(PayLinkRefused, match="expires_in"):
            links(stripe).mint("pi_9", "", seconds)
    stripe.down = True  # not the intent's fault: the API answers 503, as for any command
    with pytest.raises(StripeUnavailable):
        links(stripe).mint("pi_9", "", 3600)
