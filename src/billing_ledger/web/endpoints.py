"""Every `/api/v1` endpoint in one table: path, scope, body, and the service call it makes.

The OpenAPI document (`openapi.py`) and the routes (`api.py`) are both built from this table,
so no path can be served undocumented.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from billing_ledger.stripe_api.commands import Caller, Outcome
from billing_ledger.stripe_api.customers import CustomerService
from billing_ledger.stripe_api.payments import PaymentService
from billing_ledger.stripe_api.requests import (
    CustomerChanges,
    InvoicePayment,
    MicrodepositVerification,
    NewCustomer,
    NewPayLink,
    NewPayment,
    NewPortalLink,
    NewRefund,
    NewSetup,
    PaymentMethodChoice,
)
from billing_ledger.stripe_api.subscription_requests import (
    Cancellation,
    CollectionPause,
    NewSubscription,
    SubscriptionChange,
    TrialChange,
)
from billing_ledger.stripe_api.subscriptions import SubscriptionService
from billing_ledger.web.pages.pay_links import PayLinkRefused, PayLinks

ID_PATTERNS = {
    "customer": re.compile(r"^cus_[A-Za-z0-9]+$"),
    "payment": re.compile(r"^pi_[A-Za-z0-9]+$"),
    "payment_method": re.compile(r"^pm_[A-Za-z0-9_]+$"),
    "invoice": re.compile(r"^in_[A-Za-z0-9]+$"),
    "setup_intent": re.compile(r"^seti_[A-Za-z0-9]+$"),
    "subscription": re.compile(r"^sub_[A-Za-z0-9]+$"),
}


class PortalLinks(Protocol):
    def portal_url(self, customer: str, account: str, livemode: bool, expires: int) -> str: ...


@dataclass(frozen=True)
class Services:
    customers: CustomerService
    payments: PaymentService
    subscriptions: SubscriptionService
    portal: PortalLinks | None = None
    """Signs links to the customer pages (None: the services make unsigned links only)."""
    livemode: bool = False
    """The mode of the Stripe key: the mode of the customers links name."""
    pay_links: PayLinks | None = None
    """Signs fresh links to one payment's page (None: no signed links here)."""


def portal_link(services: Services, caller: Caller, customer: str, ask: NewPortalLink) -> Outcome:
    """A signed link to `customer`'s pages: not a Stripe command, so nothing is recorded but
    the audit line, and a repeated key makes a new link (each expires on its own)."""
    if services.portal is None:
        return Outcome(503, {"error": "the customer pages are not configured here"})
    expires = int(time.time()) + ask.expires_in
    url = services.portal.portal_url(customer, caller.account, services.livemode, expires)
    body = {"object": "portal_link", "customer": customer, "expires_at": expires}
    return Outcome(201, body, private={"url": url})


def pay_link(services: Services, caller: Caller, payment: str, ask: NewPayLink) -> Outcome:
    """A fresh signed link to `payment`'s page, for its customer, if it still needs paying:
    not a Stripe command (Stripe is only asked for the intent), so nothing is recorded but
    the audit line; every call makes a new link."""
    if services.pay_links is None:
        return Outcome(503, {"error": "the customer pages are not configured here"})
    try:
        made = services.pay_links.mint(payment, caller.account, ask.expires_in)
    except PayLinkRefused as e:
        return Outcome(e.status, {"error": e.reason})
    return Outcome(201, made.body(), private={"url": made.url})


class NoBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DefaultMethod(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    payment_method: str


Run = Callable[[Services, Caller, dict[str, str], Any], Outcome]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    operation: str
    scope: str
    summary: str
    body: type[BaseModel] = NoBody
    run: Run | None = None
    read: str | None = None  # the `billing` view a GET reads
    query: tuple[tuple[str, str], ...] = ()  # a GET's query parameters: (name, description)
    answers: tuple[int, ...] = (200,)

    def id_pattern(self, name: str) -> re.Pattern[str]:
        return ID_PATTERNS[name]


def run_of(spec: Endpoint) -> Run:
    assert spec.run is not None
    return spec.run


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        "/customers",
        "customers.create",
        "customers:write",
        "Create a customer; `payment_method` (e.g. pm_card_visa) is attached and made default",
        NewCustomer,
        lambda s, c, ids, b: s.customers.create(c, b),
        answers=(201,),
    ),
    Endpoint(
        "POST",
        "/customers/{customer}",
        "customers.update",
        "customers:write",
        "Change a customer's email, name, address or metadata.user_id",
        CustomerChanges,
        lambda s, c, ids, b: s.customers.update(c, ids["customer"], b),
        answers=(200, 404),
    ),
    Endpoint(
        "DELETE",
        "/customers/{customer}",
        "customers.delete",
        "customers:write",
        "Delete a customer at Stripe for good (its row is marked deleted by Stripe's webhook)",
        NoBody,
        lambda s, c, ids, b: s.customers.delete(c, ids["customer"]),
        answers=(200, 404),
    ),
    Endpoint(
        "POST",
        "/customers/{customer}/setup_intents",
        "setup_intents.create",
        "customers:write",
        "Save a payment method for later (card, SEPA debit with mandate, ACH with verification)",
        NewSetup,
        lambda s, c, ids, b: s.customers.save_payment_method(c, ids["customer"], b),
        answers=(201, 202, 402, 404),
    ),
    Endpoint(
        "POST",
        "/setup_intents/{setup_intent}/verify_microdeposits",
        "setup_intents.verify_microdeposits",
        "customers:write",
        "Verify an ACH bank account with its two microdeposit amounts or its descriptor code",
        MicrodepositVerification,
        lambda s, c, ids, b: s.customers.verify_microdeposits(c, ids["setup_intent"], b),
        answers=(201, 202, 404),
    ),
    Endpoint(
        "POST",
        "/customers/{customer}/payment_methods",
        "payment_methods.attach",
        "customers:write",
        "Attach a payment method (and make it the default with default=true)",
        PaymentMethodChoice,
        lambda s, c, ids, b: s.customers.attach_payment_method(c, ids["customer"], b),
        answers=(200, 404),
    ),
    Endpoint(
        "POST",
        "/customers/{customer}/default_payment_method",
        "customers.default_payment_method",
        "customers:write",
        "Make an attached payment method the customer's default",
        DefaultMethod,
        lambda s, c, ids, b: s.customers.set_default_payment_method(
            c, ids["customer"], b.payment_method
        ),
        answers=(200, 404),
    ),
    Endpoint(
        "POST",
        "/payment_methods/{payment_method}/detach",
        "payment_methods.detach",
        "customers:write",
        "Detach a payment method from its customer",
        NoBody,
        lambda s, c, ids, b: s.customers.detach_payment_method(c, ids["payment_method"]),
        answers=(200, 404),
    ),
    Endpoint(
        "POST",
        "/customers/{customer}/portal_links",
        "portal_links.create",
        "customers:write",
        "A signed, expiring link (`url`) to the customer's pages: payment methods, payments",
        NewPortalLink,
        lambda s, c, ids, b: portal_link(s, c, ids["customer"], b),
        answers=(201,),
    ),
    Endpoint(
        "POST",
        "/payments",
        "payments.create",
        "payments:write",
        "Charge a customer once: succeeded, processing, requires_action or failed (402); "
        "without payment_method, requires_payment_method with the payment page's "
        "confirmation_url",
        NewPayment,
        lambda s, c, ids, b: s.payments.pay(c, b),
        answers=(201, 202, 402, 404),
    ),
    Endpoint(
        "POST",
        "/payments/{payment}/pay_links",
        "pay_links.create",
        "payments:write",
        "A fresh signed, expiring link (`url`) to the payment's page, for a payment that still "
        "needs its customer (requires_payment_method, requires_confirmation, requires_action); "
        "409 for one succeeded, processing or canceled",
        NewPayLink,
        lambda s, c, ids, b: pay_link(s, c, ids["payment"], b),
        answers=(201, 404, 409, 422),
    ),
    Endpoint(
        "POST",
        "/payments/{payment}/refunds",
        "refunds.create",
        "payments:write",
        "Refund all of a payment, or `amount` of it",
        NewRefund,
        lambda s, c, ids, b: s.payments.refund(c, ids["payment"], b),
        answers=(201, 404),
    ),
    Endpoint(
        "POST",
        "/invoices/{invoice}/pay",
        "invoices.pay",
        "payments:write",
        "Pay an open invoice again, with its default or another payment method",
        InvoicePayment,
        lambda s, c, ids, b: s.payments.pay_invoice(c, ids["invoice"], b),
        answers=(200, 202, 402, 404),
    ),
    Endpoint(
        "POST",
        "/subscriptions",
        "subscriptions.create",
        "subscriptions:write",
        "Subscribe a customer to `price` (× `quantity`) or `items`, with an optional trial and "
        "coupon: active or trialing (201), incomplete with requires_action or "
        "requires_payment_method and a confirmation_url (202), or a declined card (402)",
        NewSubscription,
        lambda s, c, ids, b: s.subscriptions.create(c, b),
        answers=(201, 202, 402, 404),
    ),
    Endpoint(
        "POST",
        "/subscriptions/{subscription}/change",
        "subscriptions.change",
        "subscriptions:write",
        "Swap a price, change a quantity, add or remove items, prorated as asked",
        SubscriptionChange,
        lambda s, c, ids, b: s.subscriptions.change(c, ids["subscription"], b),
        answers=(200, 404),
    ),
    Endpoint(
        "POST",
        "/subscriptions/{subscription}/preview",
        "subscriptions.preview",
        "subscriptions:write",
        "What a change would invoice, without making it (pass its proration_date to /change "
        "to be invoiced exactly that)",
        SubscriptionChange,
        lambda s, c, ids, b: s.subscriptions.preview(c, ids["subscription"], b),
        answers=(200, 404),
    ),
    Endpoint(
        "POST",
        "/subscriptions/{subscription}/cancel",
        "subscriptions.cancel",
        "subscriptions:write",
        "Cancel now (empty body), at the period's end (`at_period_end`), or `at` a time",
        Cancellation,
        lambda s, c, ids, b: s.subscriptions.cancel(c, ids["subscription"], b),
        answers=(200, 404),
    ),
    Endpoint(
        "POST",
        "/subscriptions/{subscription}/resume",
        "subscriptions.resume",
        "subscriptions:write",
        "Undo a pending cancellation (at period end or at a time), or resume a paused "
        "subscription (a new period starts now, invoiced)",
        NoBody,
        lambda s, c, ids, b: s.subscriptions.resume(c, ids["subscription"]),
        answers=(200, 404),
    ),
    Endpoint(
        "POST",
        "/subscriptions/{subscription}/pause",
        "subscriptions.pause",
        "subscriptions:write",
        "Pause collection: renewals stay drafts, are marked uncollectible, or are voided",
        CollectionPause,
        lambda s, c, ids, b: s.subscriptions.pause(c, ids["subscription"], b),
        answers=(200, 404),
    ),
    Endpoint(
        "POST",
        "/subscriptions/{subscription}/resume_collection",
        "subscriptions.resume_collection",
        "subscriptions:write",
        "Resume collecting payments after a pause",
        NoBody,
        lambda s, c, ids, b: s.subscriptions.resume_collection(c, ids["subscription"]),
        answers=(200, 404),
    ),
    Endpoint(
        "POST",
        "/subscriptions/{subscription}/trial",
        "subscriptions.trial",
        "subscriptions:write",
        "Extend the trial to `trial_end`, or end it `now` (the first period is invoiced)",
        TrialChange,
        lambda s, c, ids, b: s.subscriptions.change_trial(c, ids["subscription"], b),
        answers=(200, 404),
    ),
    Endpoint(
        "GET",
        "/payments/{payment}",
        "payments.read",
        "read",
        "A payment as the ledger knows it (billing.payment_transactions)",
        read="payment_transactions",
        answers=(200, 404),
    ),
    Endpoint(
        "GET",
        "/metrics",
        "metrics.read",
        "read",
        "MRR, ARR, ARPA, churn, retention, LTV, cohorts, trial and payment conversion, "
        "involuntary churn and dunning recovery (the billing views of `billing-ledger metrics`)",
        read="metrics",
        answers=(200, 400),
        query=(
            ("livemode", "true or false: only live or test mode"),
            ("currency", "only this ISO currency, e.g. usd"),
        ),
    ),
    Endpoint(
        "GET",
        "/customers/{customer}",
        "customers.read",
        "read",
        "A customer as the ledger knows it (billing.stripe_customers)",
        read="stripe_customers",
        answers=(200, 404),
    ),
)
