"""The command record on a real PostgreSQL: exactly once per idempotency key (also under
concurrency), the same key with another body refused before Stripe is called, a repeated key
answered from the record, an unfinished command resumed under the same derived keys, and a
record that only grows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from billing_ledger import bootstrap
from billing_ledger.stripe_api.client import StripeAnswer
from billing_ledger.stripe_api.commands import Caller, CommandRecord, KeyReused
from billing_ledger.stripe_api.errors import CardDeclined, DeclineDetails, StripeUnavailable
from billing_ledger.stripe_api.idempotency import derived_key
from billing_ledger.stripe_api.payments import PaymentService
from billing_ledger.stripe_api.requests import NewPayment

PUBLIC = "https://ledger.example"


@dataclass
class CountingStripe:
    """Stripe as far as idempotency goes: one object per key, answers replayed per key."""

    livemode: bool = False
    calls: list[tuple[str, str | None]] = field(default_factory=list)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: list[Exception] = field(default_factory=list)
    status: str = "succeeded"
    slow: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

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
        time.sleep(self.slow)
        with self.lock:
            self.calls.append((f"{resource}.{method}", idempotency_key))
            if self.fail_next:
                raise self.fail_next.pop(0)
            if idempotency_key in self.answers:
                return StripeAnswer(self.answers[idempotency_key], "req_replayed")
            if method == "create":
                obj = {
                    "id": f"pi_{len(self.answers) + 1}",
                    "status": "requires_confirmation",
                    **dict(params or {}),
                }
            else:
                obj = {
                    "id": id,
                    "status": self.status,
                    "client_secret": f"{id}_secret_x",
                    "next_action": {"type": "redirect_to_url"}
                    if self.status == "requires_action"
                    else None,
                    "amount": 500,
                    "currency": "eur",
                }
            if idempotency_key is not None:
                self.answers[idempotency_key] = obj
            return StripeAnswer(obj, f"req_{len(self.calls)}")

    def intents_created(self) -> int:
        return sum(
            1 for key in self.answers if self.answers[key].get("status") == "requires_confirmation"
        )


@pytest.fixture
def pool(database_url: str) -> Iterator[ConnectionPool]:
    with bootstrap.api_pool(database_url) as opened:
        yield opened


def payments(pool: ConnectionPool, stripe: CountingStripe) -> PaymentService:
    record = CommandRecord(pool, stripe)
    record.create_tables()
    return PaymentService(record, PUBLIC)


def ask(amount: int = 500) -> NewPayment:
    return NewPayment(
        customer="cus_1", amount=amount, currency="eur", payment_method="pm_card_visa"
    )


CALLER = Caller("shop", "order-42")


def test_a_repeated_key_answers_the_recorded_outcome_without_calling_stripe(
    pool: ConnectionPool,
) -> None:
    stripe = CountingStripe()
    service = payments(pool, stripe)
    first = service.pay(CALLER, ask())
    assert (first.status, first.body["status"], first.replayed) == (201, "succeeded", False)
    calls = len(stripe.calls)
    again = service.pay(CALLER, ask())
    assert (again.status, again.body, again.replayed) == (201, first.body, True)
    assert len(stripe.calls) == calls == 2  # create, confirm: once


def test_the_same_key_with_another_body_is_refused_before_stripe_is_called(
    pool: ConnectionPool,
) -> None:
    stripe = CountingStripe()
    service = payments(pool, stripe)
    service.pay(CALLER, ask(500))
    with pytest.raises(KeyReused):
        service.pay(CALLER, ask(501))
    assert len(stripe.calls) == 2


def test_concurrent_duplicates_make_one_call(pool: ConnectionPool) -> None:
    stripe = CountingStripe(slow=0.05)
    service = payments(pool, stripe)
    with ThreadPoolExecutor(8) as workers:
        outcomes = list(workers.map(lambda _: service.pay(CALLER, ask()), range(8)))
    assert len({o.body["id"] for o in outcomes}) == 1
    assert [c for c, _ in stripe.calls] == ["payment_intents.create", "payment_intents.confirm"]
    assert sum(not o.replayed for o in outcomes) == 1


def test_an_unfinished_command_resumes_under_the_same_derived_keys(pool: ConnectionPool) -> None:
    stripe = CountingStripe()
    service = payments(pool, stripe)
    outage = [StripeUnavailable("down")]
    # The create succeeds, then Stripe is unavailable for the confirm.
    original = stripe.call
    sent: list[str | None] = []

    def create_then_fail(resource: str, method: str, **kwargs: Any) -> StripeAnswer:
        sent.append(kwargs.get("idempotency_key"))
        if method == "confirm" and outage:
            raise outage.pop(0)
        return original(resource, method, **kwargs)

    stripe.call = create_then_fail  # type: ignore[method-assign]
    with pytest.raises(StripeUnavailable):
        service.pay(CALLER, ask())
    done = service.pay(CALLER, ask())
    assert done.body["status"] == "succeeded" and not done.replayed
    create_key = derived_key("shop", "", "order-42", "create")
    confirm_key = derived_key("shop", "", "order-42", "confirm")
    assert sent == [create_key, confirm_key, create_key, confirm_key]
    assert stripe.intents_created() == 1  # Stripe replayed the create for its key


def test_a_decline_is_a_recorded_outcome_with_stripes_codes(pool: ConnectionPool) -> None:
    stripe = CountingStripe()
    service = payments(pool, stripe)
    details = DeclineDetails("generic_decline", "pi_1", "requires_payment_method")
    declined = CardDeclined(
        "Your card was declined.", code="card_declined", request_id="req_9", details=details
    )
    stripe.call = _declining(stripe, declined)  # type: ignore[method-assign]
    failed = service.pay(CALLER, ask())
    assert failed.status == 402
    assert (failed.body["status"], failed.body["code"], failed.body["decline_code"]) == (
        "failed",
        "card_declined",
        "generic_decline",
    )
    assert failed.body["error"] == "Your card was declined."
    assert service.pay(CALLER, ask()).replayed


def _declining(stripe: CountingStripe, error: Exception) -> Any:
    original = stripe.call

    def call(resource: str, method: str, **kwargs: Any) -> StripeAnswer:
        if method == "confirm":
            raise error
        return original(resource, method, **kwargs)

    return call


def test_requires_action_answers_secrets_it_never_records(
    pool: ConnectionPool, database_url: str
) -> None:
    stripe = CountingStripe(status="requires_action")
    service = payments(pool, stripe)
    waiting = service.pay(CALLER, ask())
    assert waiting.status == 202
    assert waiting.answer()["client_secret"] == "pi_1_secret_x"
    assert waiting.answer()["confirmation_url"] == f"{PUBLIC}/pay/pi_1"
    assert "confirmation_url" not in waiting.body  # a signed link opens the page: not recorded
    with psycopg.connect(database_url) as conn:
        record = str(conn.execute("SELECT json_agg(e) FROM ops.command_events e").fetchone())
    assert "secret" not in record and "pm_card_visa" not in record
    stripe.call = _reading(stripe)  # type: ignore[method-assign]
    replayed = service.pay(CALLER, ask())
    assert replayed.replayed and replayed.answer()["client_secret"] == "pi_1_secret_x"


def _reading(stripe: CountingStripe) -> Any:
    original = stripe.call

    def call(resource: str, method: str, **kwargs: Any) -> StripeAnswer:
        if method == "retrieve":
            return StripeAnswer(
                {
                    "id": kwargs["id"],
                    "status": "requires_action",
                    "client_secret": "pi_1_secret_x",
                    "next_action": {"type": "x"},
                }
            )
        return original(resource, method, **kwargs)

    return call


def test_the_record_holds_every_request_and_refuses_changes(
    pool: ConnectionPool, database_url: str
) -> None:
    service = payments(pool, CountingStripe())
    service.pay(CALLER, ask())
    with psycopg.connect(database_url) as conn:
        events = conn.execute(
            "SELECT kind, step, operation, stripe_request_id IS NOT NULL, status, http_status "
            "FROM ops.command_events ORDER BY id"
        ).fetchall()
    assert events == [
        ("stripe_request", "create", "payment_intents.create", True, "requires_confirmation", None),
        ("stripe_request", "confirm", "payment_intents.confirm", True, "succeeded", None),
        ("outcome", None, None, False, "succeeded", 201),
    ]
    for statement in ("UPDATE ops.commands SET kind = 'x'", "DELETE FROM ops.command_events"):
        with pytest.raises(psycopg.errors.RaiseException), psycopg.connect(database_url) as conn:
            conn.execute(statement)
