"""Subscription commands on the command record and the stand-in: a command cut short after
Stripe created the subscription resumes under the same derived keys and subscribes once;
a 3-D Secure answer carries its client secret, which the record never holds; a change that
does not fit the subscription is refused with a reason, not an error."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from billing_ledger import bootstrap
from billing_ledger.stripe_api.client import StripeAnswer, StripeGateway
from billing_ledger.stripe_api.commands import Caller
from billing_ledger.stripe_api.errors import StripeUnavailable, TransientStripeError
from billing_ledger.stripe_api.fake import fake_stripe
from billing_ledger.stripe_api.subscription_requests import NewSubscription, SubscriptionChange
from billing_ledger.web.endpoints import Services
from tests.integration.test_fake_stripe import Receiver
from tests.support.http_server import serving
from tests.support.webhooks import SECRET


@dataclass
class Flaky:
    """The stand-in, failing the first call of `fail_on` as if Stripe could not be reached
    after doing it (the answer is lost, the work is done)."""

    gateway: StripeGateway
    fail_on: str | None = None
    sent: list[str] = field(default_factory=list)
    unfilled_intents: bool = False
    """Answer PaymentIntents without their payment method, as Stripe may for an invoice's."""

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
        self.sent.append(f"{resource}.{method}")
        answer = self.gateway.call(
            resource, method, id=id, params=params, idempotency_key=idempotency_key, account=account
        )
        if f"{resource}.{method}" == self.fail_on:
            self.fail_on = None
            raise StripeUnavailable("Stripe cannot be reached")
        if self.unfilled_intents and (resource, method) == ("payment_intents", "retrieve"):
            return StripeAnswer({**answer.object, "payment_method": None}, answer.request_id)
        return answer


@dataclass
class World:
    stripe: Flaky
    services: Services
    dsn: str

    def price(self) -> str:
        product = self.stripe.gateway.call("products", "create", params={"name": "P"}).object
        return str(
            self.stripe.gateway.call(
                "prices",
                "create",
                params={
                    "product": product["id"],
                    "unit_amount": 2500,
                    "currency": "eur",
                    "recurring": {"interval": "month"},
                },
            ).object["id"]
        )

    def customer(self) -> str:
        made = self.stripe.gateway.call("customers", "create", params={"email": "s@example.com"})
        return str(made.object["id"])

    def subscriptions_of(self, customer: str) -> list[Any]:
        found = self.stripe.gateway.call("subscriptions", "list", params={"customer": customer})
        return list(found.object["data"])


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    receiver = Receiver()
    with serving(receiver.app()) as hook_base:
        with fake_stripe("http://unset", f"{hook_base}/webhooks/stripe", SECRET) as fake:
            with serving(fake.app) as url:
                fake.store.public_url = url
                flaky = Flaky(StripeGateway("sk_test_sub_commands", api_base=url))
                with bootstrap.api_pool(database_url) as pool:
                    services = bootstrap.services(pool, flaky, "https://ledger.example")
                    yield World(flaky, services, database_url)


def test_a_command_cut_short_after_the_subscription_was_made_subscribes_once(
    world: World,
) -> None:
    customer = world.customer()
    asked = NewSubscription(customer=customer, price=world.price(), payment_method="pm_card_visa")
    caller = Caller("shop", "cut-short")
    world.stripe.fail_on = "subscriptions.create"
    with pytest.raises(TransientStripeError):
        world.services.subscriptions.create(caller, asked)
    done = world.services.subscriptions.create(caller, asked)
    assert (done.status, done.body["status"]) == (201, "active")
    (made,) = world.subscriptions_of(customer)
    assert made["id"] == done.body["id"]
    again = world.services.subscriptions.create(caller, asked)
    assert again.replayed and again.body == done.body


def test_3d_secure_answers_the_client_secret_the_record_never_holds(world: World) -> None:
    asked = NewSubscription(
        customer=world.customer(),
        price=world.price(),
        payment_method="pm_card_authenticationRequired",
    )
    waiting = world.services.subscriptions.create(Caller("shop", "three-ds"), asked)
    assert (waiting.status, waiting.body["payment"]["status"]) == (202, "requires_action")
    secret = waiting.private["client_secret"]
    assert secret.startswith(waiting.body["payment"]["id"])
    repeated = world.services.subscriptions.create(Caller("shop", "three-ds"), asked)
    assert repeated.replayed and repeated.private["client_secret"] == secret
    with psycopg.connect(world.dsn) as conn:
        kept = str(conn.execute("SELECT json_agg(e) FROM ops.command_events e").fetchone())
    assert "_secret_" not in kept


def test_a_change_that_does_not_fit_is_refused_with_its_reason(world: World) -> None:
    customer = world.customer()
    two = NewSubscription.model_validate(
        {"customer": customer, "items": [{"price": world.price()}, {"price": world.price()}]}
    )
    made = world.services.subscriptions.create(Caller("shop", "two-items"), two)
    assert made.body["status"] == "incomplete"  # no payment method: the customer pays later
    refused = world.services.subscriptions.change(
        Caller("shop", "ambiguous"), str(made.body["id"]), SubscriptionChange(quantity=2)
    )
    assert refused.status == 422 and "several items" in refused.body["error"]


def test_the_customers_default_pays_when_stripe_leaves_the_intent_without_one(
    world: World,
) -> None:
    customer = world.customer()
    method = world.stripe.gateway.call(
        "payment_methods", "attach", id="pm_card_visa", params={"customer": customer}
    ).object["id"]
    world.stripe.gateway.call(
        "customers",
        "update",
        id=customer,
        params={"invoice_settings": {"default_payment_method": method}},
    )
    world.stripe.unfilled_intents = True
    asked = NewSubscription(customer=customer, price=world.price())
    done = world.services.subscriptions.create(Caller("shop", "default-method"), asked)
    assert (done.status, done.body["status"]) == (201, "active")
    assert "customers.retrieve" in world.stripe.sent
