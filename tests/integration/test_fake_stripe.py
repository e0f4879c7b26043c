"""The Stripe stand-in behaves as Stripe does for what we use: objects kept, state machines
and test payment methods followed, idempotency keys honoured, webhooks signed and delivered
in the current API shape (our own envelope parser and signature check accept them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from billing_ledger.ingest.signature import verify
from billing_ledger.schemas.envelope import parse_event
from billing_ledger.stripe_api.client import API_VERSION, StripeGateway
from billing_ledger.stripe_api.errors import CardDeclined, IdempotencyConflict, InvalidRequest
from billing_ledger.stripe_api.fake import fake_stripe
from tests.support.http_server import serving
from tests.support.stripe import returned_to
from tests.support.webhooks import SECRET


@dataclass
class Receiver:
    """A webhook endpoint that verifies every delivery and keeps the events."""

    events: list[dict[str, Any]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def app(self) -> Starlette:
        async def receive(request: Request) -> Response:
            body = await request.body()
            verify(body, request.headers["stripe-signature"], [SECRET], now=int(time.time()))
            parse_event(body)
            with self.arrived:
                self.events.append(__import__("json").loads(body))
                self.arrived.notify_all()
            return JSONResponse({"received": True})

        return Starlette(routes=[Route("/webhooks/stripe", receive, methods=["POST"])])

    def types(self, until: str, times: int = 1, timeout: float = 10) -> list[str]:
        """The types delivered so far, once `until` has arrived `times` times."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while [e["type"] for e in self.events].count(until) < times:
                left = deadline - time.monotonic()
                assert left > 0, f"no {until}: {[e['type'] for e in self.events]}"
                self.arrived.wait(left)
            return [e["type"] for e in self.events]


@dataclass
class Stand:
    stripe: StripeGateway
    url: str
    received: Receiver


@pytest.fixture
def stand() -> Iterator[Stand]:
    receiver = Receiver()
    with serving(receiver.app()) as hook_base:
        with fake_stripe(
            "http://unset", f"{hook_base}/webhooks/stripe", SECRET, settle_seconds=0.3
        ) as fake:
            with serving(fake.app) as url:
                fake.store.public_url = url
                yield Stand(StripeGateway("sk_test_stand", api_base=url), url, receiver)


def customer(stand: Stand) -> str:
    made = stand.stripe.call("customers", "create", params={"email": "ada@example.com"})
    return str(made.object["id"])


def intent(stand: Stand, method: str, amount: int = 1500) -> dict[str, Any]:
    return stand.stripe.call(
        "payment_intents",
        "create",
        params={
            "amount": amount,
            "currency": "eur",
            "customer": customer(stand),
            "payment_method": method,
        },
    ).object


def confirm(stand: Stand, intent_id: str) -> dict[str, Any]:
    return stand.stripe.call(
        "payment_intents",
        "confirm",
        id=intent_id,
        params={"return_url": f"http://shop/pay/{intent_id}"},
    ).object


def test_a_card_that_succeeds_sends_the_current_shapes(stand: Stand) -> None:
    paid = confirm(stand, intent(stand, "pm_card_visa")["id"])
    assert (paid["status"], paid["amount_received"]) == ("succeeded", 1500)
    types = stand.received.types("payment_intent.succeeded")
    assert types == [
        "customer.created",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    assert {e["api_version"] for e in stand.received.events} == {API_VERSION}
    assert all(not e["livemode"] for e in stand.received.events)
    charge = stand.received.events[2]["data"]["object"]
    assert charge["payment_method_details"]["card"]["last4"] == "4242"
    assert "number" not in charge["payment_method_details"]["card"]


def test_a_declined_card_is_a_402_with_stripes_codes_and_a_failed_intent(stand: Stand) -> None:
    created = intent(stand, "pm_card_chargeDeclined")
    with pytest.raises(CardDeclined) as declined:
        confirm(stand, created["id"])
    assert (declined.value.code, declined.value.decline_code) == (
        "card_declined",
        "generic_decline",
    )
    assert declined.value.payment_intent == created["id"]
    assert stand.received.types("payment_intent.payment_failed")[-2:] == [
        "charge.failed",
        "payment_intent.payment_failed",
    ]
    failed = stand.received.events[-1]["data"]["object"]
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["decline_code"] == "generic_decline"


def test_3d_secure_waits_for_the_challenge_then_succeeds(stand: Stand) -> None:
    created = intent(stand, "pm_card_authenticationRequired")
    waiting = confirm(stand, created["id"])
    assert waiting["status"] == "requires_action"
    redirect = waiting["next_action"]["redirect_to_url"]
    assert redirect["return_url"] == f"http://shop/pay/{created['id']}"
    assert httpx.get(redirect["url"]).status_code == 200  # the page a person would see
    answer = httpx.post(redirect["url"])
    assert answer.status_code == 303
    assert returned_to(answer.headers["location"]) == (
        redirect["return_url"],
        {
            "payment_intent": created["id"],
            "payment_intent_client_secret": created["client_secret"],
            "redirect_status": "succeeded",
        },
    )
    retrieved = stand.stripe.call("payment_intents", "retrieve", id=created["id"]).object
    assert retrieved["status"] == "succeeded"
    assert stand.received.types("payment_intent.succeeded")[-3:] == [
        "payment_intent.requires_action",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


def test_a_failed_challenge_leaves_the_payment_unpaid(stand: Stand) -> None:
    created = intent(stand, "pm_card_authenticationRequired")
    url = confirm(stand, created["id"])["next_action"]["redirect_to_url"]["url"]
    httpx.post(url, data={"result": "fail"})
    failed = stand.stripe.call("payment_intents", "retrieve", id=created["id"]).object
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"


def test_sepa_debit_is_processing_then_succeeds(stand: Stand) -> None:
    created = intent(stand, "pm_sepa_debit")
    assert confirm(stand, created["id"])["status"] == "processing"
    types = stand.received.types("payment_intent.succeeded")
    assert types[-4:] == [
        "charge.pending",
        "payment_intent.processing",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


def test_idempotency_keys_replay_the_first_answer_and_refuse_other_parameters(
    stand: Stand,
) -> None:
    params = {"email": "same@example.com"}
    first = stand.stripe.call("customers", "create", params=params, idempotency_key="k-1")
    again = stand.stripe.call("customers", "create", params=params, idempotency_key="k-1")
    assert again.object["id"] == first.object["id"]
    with pytest.raises(IdempotencyConflict):
        stand.stripe.call(
            "customers", "create", params={"email": "x@example.com"}, idempotency_key="k-1"
        )
    assert stand.received.types("customer.created").count("customer.created") == 1


def test_partial_then_full_refund_and_no_more(stand: Stand) -> None:
    paid = confirm(stand, intent(stand, "pm_card_visa", amount=1000)["id"])
    part = stand.stripe.call(
        "refunds", "create", params={"payment_intent": paid["id"], "amount": 300}
    ).object
    rest = stand.stripe.call("refunds", "create", params={"payment_intent": paid["id"]}).object
    assert (part["amount"], rest["amount"]) == (300, 700)
    with pytest.raises(InvalidRequest):
        stand.stripe.call("refunds", "create", params={"payment_intent": paid["id"]})
    stand.received.types("charge.refunded", times=2)
    refunded = [
        e["data"]["object"] for e in stand.received.events if e["type"] == "charge.refunded"
    ]
    assert [(c["amount_refunded"], c["refunded"]) for c in refunded] == [(300, False), (1000, True)]


def test_a_payment_method_is_attached_made_default_and_detached(stand: Stand) -> None:
    owner = customer(stand)
    method = stand.stripe.call(
        "payment_methods", "attach", id="pm_card_visa", params={"customer": owner}
    ).object
    assert method["id"].startswith("pm_") and method["id"] != "pm_card_visa"
    updated = stand.stripe.call(
        "customers",
        "update",
        id=owner,
        params={"invoice_settings": {"default_payment_method": method["id"]}},
    ).object
    assert updated["invoice_settings"]["default_payment_method"] == method["id"]
    stand.stripe.call("payment_methods", "detach", id=method["id"])
    cleared = stand.stripe.call("customers", "retrieve", id=owner).object
    assert cleared["invoice_settings"]["default_payment_method"] is None


ACCEPTANCE = {
    "customer_acceptance": {
        "type": "online",
        "online": {"ip_address": "127.0.0.1", "user_agent": "test"},
    }
}


def test_setup_intents_for_sepa_need_a_mandate_which_names_the_payment_method(
    stand: Stand,
) -> None:
    owner = customer(stand)
    setup = stand.stripe.call(
        "setup_intents",
        "create",
        params={"customer": owner, "payment_method_types": ["sepa_debit"]},
    ).object
    with pytest.raises(InvalidRequest) as refused:
        stand.stripe.call(
            "setup_intents", "confirm", id=setup["id"], params={"payment_method": "pm_sepa_debit"}
        )
    assert refused.value.param == "mandate_data"
    done = stand.stripe.call(
        "setup_intents",
        "confirm",
        id=setup["id"],
        params={"payment_method": "pm_sepa_debit", "mandate_data": ACCEPTANCE},
    ).object
    assert done["status"] == "succeeded" and done["mandate"].startswith("mandate_")
    mandate = stand.stripe.call("mandates", "retrieve", id=done["mandate"]).object
    assert (mandate["payment_method"], mandate["status"], mandate["type"]) == (
        done["payment_method"],
        "active",
        "multi_use",
    )
    assert mandate["customer_acceptance"]["online"]["ip_address"] == "127.0.0.1"
    assert mandate["payment_method_details"]["sepa_debit"]["reference"]
    types = stand.received.types("setup_intent.succeeded")
    assert types[-2:] == ["payment_method.attached", "setup_intent.succeeded"]


def test_ach_waits_for_microdeposits_then_verifies_with_amounts_or_descriptor_code(
    stand: Stand,
) -> None:
    owner = customer(stand)

    def bank() -> dict[str, Any]:
        return stand.stripe.call(
            "setup_intents",
            "create",
            params={
                "customer": owner,
                "payment_method_types": ["us_bank_account"],
                "confirm": True,
                "payment_method": "pm_usBankAccount",
                "mandate_data": ACCEPTANCE,
                "payment_method_options": {
                    "us_bank_account": {"verification_method": "microdeposits"}
                },
            },
        ).object

    waiting = bank()
    assert (waiting["status"], waiting["next_action"]["type"]) == (
        "requires_action",
        "verify_with_microdeposits",
    )
    steps = waiting["next_action"]["verify_with_microdeposits"]
    assert steps["microdeposit_type"] == "amounts" and steps["hosted_verification_url"]
    assert (
        stand.stripe.call("mandates", "retrieve", id=waiting["mandate"]).object["status"]
        == "pending"
    )
    with pytest.raises(InvalidRequest) as wrong:
        stand.stripe.call(
            "setup_intents", "verify_microdeposits", id=waiting["id"], params={"amounts": [1, 2]}
        )
    assert wrong.value.code == "payment_method_microdeposit_verification_amounts_mismatch"
    done = stand.stripe.call(
        "setup_intents", "verify_microdeposits", id=waiting["id"], params={"amounts": [32, 45]}
    ).object
    assert (done["status"], done["next_action"]) == ("succeeded", None)
    assert (
        stand.stripe.call("mandates", "retrieve", id=done["mandate"]).object["status"] == "active"
    )
    assert stand.received.types("setup_intent.succeeded")[-3:] == [
        "payment_method.attached",
        "mandate.updated",
        "setup_intent.succeeded",
    ]
    by_code = bank()
    for _ in range(3):
        with pytest.raises(InvalidRequest) as attempt:
            stand.stripe.call(
                "setup_intents",
                "verify_microdeposits",
                id=by_code["id"],
                params={"descriptor_code": "SM00XX"},
            )
    assert attempt.value.code == "payment_method_microdeposit_verification_attempts_exceeded"
    failed = stand.stripe.call("setup_intents", "retrieve", id=by_code["id"]).object
    assert failed["status"] == "requires_payment_method" and failed["last_setup_error"]
    assert stand.received.types("setup_intent.setup_failed")[-1] == "setup_intent.setup_failed"


def test_a_card_setup_needing_3d_secure_passes_or_fails_its_challenge(stand: Stand) -> None:
    owner = customer(stand)
    outcomes = {}
    for result in ("complete", "fail"):
        setup = stand.stripe.call(
            "setup_intents",
            "create",
            params={
                "customer": owner,
                "confirm": True,
                "payment_method": "pm_card_authenticationRequired",
                "return_url": "http://shop/done",
            },
        ).object
        assert setup["next_action"]["type"] == "redirect_to_url"
        answer = httpx.post(setup["next_action"]["redirect_to_url"]["url"], data={"result": result})
        assert answer.status_code == 303
        back, appended = returned_to(answer.headers["location"])
        assert (back, appended["setup_intent"]) == ("http://shop/done", setup["id"])
        assert appended["redirect_status"] == ("succeeded" if result == "complete" else "failed")
        outcomes[result] = stand.stripe.call("setup_intents", "retrieve", id=setup["id"]).object
    assert outcomes["complete"]["status"] == "succeeded"
    failed = outcomes["fail"]
    assert failed["status"] == "requires_payment_method"
    assert failed["last_setup_error"]["code"] == "setup_intent_authentication_failure"


def test_an_open_invoice_is_paid_again_with_another_method(stand: Stand) -> None:
    owner = customer(stand)
    stand.stripe.call(
        "invoice_items", "create", params={"customer": owner, "amount": 2500, "currency": "usd"}
    )
    draft = stand.stripe.call("invoices", "create", params={"customer": owner}).object
    stand.stripe.call("invoices", "finalize_invoice", id=draft["id"])
    with pytest.raises(CardDeclined):
        stand.stripe.call(
            "invoices", "pay", id=draft["id"], params={"payment_method": "pm_card_chargeDeclined"}
        )
    paid = stand.stripe.call(
        "invoices", "pay", id=draft["id"], params={"payment_method": "pm_card_visa"}
    ).object
    assert (paid["status"], paid["amount_paid"], paid["amount_remaining"]) == ("paid", 2500, 0)
    types = stand.received.types("invoice.paid")
    assert "invoice.payment_failed" in types and "invoice_payment.paid" in types


def test_a_deleted_customer_is_a_stub_sends_customer_deleted_and_is_gone_for_writes(
    stand: Stand,
) -> None:
    owner = customer(stand)
    gone = stand.stripe.call("customers", "delete", id=owner).object
    assert gone == {"id": owner, "object": "customer", "deleted": True}
    assert stand.received.types("customer.deleted")[-1] == "customer.deleted"
    deleted = stand.received.events[-1]["data"]["object"]
    assert (deleted["id"], deleted["email"]) == (owner, "ada@example.com")
    assert stand.stripe.call("customers", "retrieve", id=owner).object["deleted"] is True
    with pytest.raises(InvalidRequest) as again:
        stand.stripe.call("customers", "delete", id=owner)
    assert again.value.code == "resource_missing" and again.value.status == 404
    with pytest.raises(InvalidRequest):
        stand.stripe.call("customers", "update", id=owner, params={"name": "x"})
