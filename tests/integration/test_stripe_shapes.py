"""Request shapes against Stripe's own stripe-mock: every request the services make is
accepted by Stripe's OpenAPI schema (an unknown or mistyped parameter is a 400 there).

stripe-mock answers fixtures, not state, so these prove the requests, not the behaviour (the
stand-in's tests and the end-to-end tests do that)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from billing_ledger import bootstrap
from billing_ledger.stripe_api.client import StripeAnswer, StripeGateway
from billing_ledger.stripe_api.commands import Caller
from billing_ledger.stripe_api.errors import CardDeclined, InvalidRequest
from billing_ledger.stripe_api.requests import (
    Address,
    CustomerChanges,
    InvoicePayment,
    MandateAcceptance,
    MicrodepositVerification,
    NewCustomer,
    NewPayment,
    NewRefund,
    NewSetup,
    PaymentMethodChoice,
    TaxId,
)
from billing_ledger.web.endpoints import Services

pytestmark = pytest.mark.stripe_mock

MANDATE = MandateAcceptance(ip_address="127.0.0.1", user_agent="shape-test")


@dataclass
class Checked:
    """The gateway, noting each request and whether Stripe's schema took it."""

    gateway: StripeGateway
    sent: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def livemode(self) -> bool:
        return self.gateway.livemode

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
        try:
            return self.gateway.call(
                resource,
                method,
                id=id,
                params=params,
                idempotency_key=idempotency_key,
                account=account,
            )
        except InvalidRequest as e:
            self.refused.append(f"{resource}.{method}: {e.message}")
            raise


@pytest.fixture
def checked(stripe_mock_url: str) -> Checked:
    return Checked(StripeGateway("sk_test_shapes", api_base=stripe_mock_url))


@pytest.fixture
def services(database_url: str, checked: Checked) -> Iterator[Services]:
    with bootstrap.api_pool(database_url) as pool:
        yield bootstrap.services(pool, checked, "https://ledger.example")


def caller(key: str, account: str = "") -> Caller:
    return Caller("shapes", key, account)


def test_customer_requests(services: Services, checked: Checked) -> None:
    customers = services.customers
    customers.create(
        caller("c-1"),
        NewCustomer(
            email="ada@example.com",
            name="Ada",
            user_id="0b6a3f0e-6a52-4c1e-9a43-7d2d5e0c9f11",
            address=Address(line1="1 Row", city="London", postal_code="N1", country="GB"),
            tax_id=TaxId(type="eu_vat", value="DE123456789"),
            payment_method="pm_card_visa",
            test_clock="clock_123",
        ),
    )
    customers.update(
        caller("c-2"),
        "cus_123",
        CustomerChanges(
            email="ada@example.org", name="Ada K", address=Address(city="Paris"), user_id="u"
        ),
    )
    customers.attach_payment_method(
        caller("c-3"), "cus_123", PaymentMethodChoice(payment_method="pm_123", default=True)
    )
    customers.set_default_payment_method(caller("c-4"), "cus_123", "pm_123")
    customers.detach_payment_method(caller("c-5"), "pm_123")
    customers.delete(caller("c-6"), "cus_123")
    assert checked.refused == []
    assert checked.sent == [
        "customers.create",
        "payment_methods.attach",
        "customers.update",
        "customers.update",
        "payment_methods.attach",
        "customers.update",
        "customers.update",
        "payment_methods.detach",
        "customers.delete",
    ]


@pytest.mark.parametrize(
    "setup",
    [
        NewSetup(type="card", payment_method="pm_card_visa"),
        NewSetup(type="sepa_debit", payment_method="pm_123", mandate=MANDATE),
        NewSetup(
            type="us_bank_account",
            payment_method="pm_123",
            verification_method="microdeposits",
            mandate=MANDATE,
        ),
        NewSetup(type="card"),
    ],
    ids=["card", "sepa_debit", "us_bank_account", "unconfirmed"],
)
def test_setup_intent_requests(services: Services, checked: Checked, setup: NewSetup) -> None:
    services.customers.save_payment_method(caller("s-1"), "cus_123", setup)
    assert checked.refused == []
    assert checked.sent == ["setup_intents.create"] + (
        ["setup_intents.confirm"] if setup.payment_method else []
    )


@pytest.mark.parametrize(
    "verification",
    [
        MicrodepositVerification(amounts=[32, 45]),
        MicrodepositVerification(descriptor_code="SM11AA"),
    ],
    ids=["amounts", "descriptor_code"],
)
def test_microdeposit_verification_requests(
    services: Services, checked: Checked, verification: MicrodepositVerification
) -> None:
    services.customers.verify_microdeposits(caller("v-1"), "seti_123", verification)
    assert checked.refused == []
    assert checked.sent == ["setup_intents.verify_microdeposits"]


def test_payment_requests(services: Services, checked: Checked) -> None:
    payments = services.payments
    payments.pay(
        caller("p-1"),
        NewPayment(
            customer="cus_123",
            amount=2000,
            currency="eur",
            payment_method="pm_card_visa",
            description="Order 1",
        ),
    )
    payments.pay(
        caller("p-2", account="acct_123"),
        NewPayment(
            customer="cus_123",
            amount=2000,
            currency="eur",
            payment_method="pm_123",
            mandate=MANDATE,
        ),
    )
    payments.refund(caller("p-3"), "pi_123", NewRefund(amount=500))
    payments.refund(caller("p-4"), "pi_123", NewRefund())
    try:
        payments.pay_invoice(caller("p-5"), "in_123", InvoicePayment(payment_method="pm_123"))
        payments.pay_invoice(caller("p-6"), "in_123", InvoicePayment())
    except CardDeclined:  # stripe-mock's fixtures may decline; the request was accepted
        pass
    assert checked.refused == []
    assert checked.sent == [
        "payment_intents.create",
        "payment_intents.confirm",
        "payment_intents.create",
        "payment_intents.confirm",
        "refunds.create",
        "refunds.create",
        "invoices.pay",
        "invoices.pay",
    ]


def test_a_parameter_stripe_does_not_know_is_refused(checked: Checked) -> None:
    """The layer itself works: stripe-mock does refuse what Stripe would."""
    with pytest.raises(InvalidRequest):
        checked.call("customers", "create", params={"no_such_parameter": "x"})


def test_reads_of_the_replay_path(checked: Checked) -> None:
    for resource, object_id in (
        ("payment_intents", "pi_123"),
        ("setup_intents", "seti_123"),
    ):
        checked.gateway.call(resource, "retrieve", id=object_id)
    assert checked.refused == []
