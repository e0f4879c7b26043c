"""Each payment path Stripe takes ends in the right state: status, failure, method, refunds."""

from __future__ import annotations

from tests.support.domain_memory import Memory
from tests.support.stripe import ApiShape, charge, event, invoice_payment, payment_intent, refund

DECLINED = {
    "code": "card_declined",
    "decline_code": "insufficient_funds",
    "message": "Your card has insufficient funds.",
}


def test_card_payment_that_succeeds_shows_receipt_and_method() -> None:
    memory = Memory()
    memory.apply(event("payment_intent.succeeded", payment_intent(), created=100))
    memory.apply(event("charge.succeeded", charge(), created=100))
    state = memory.state("pi_Test1")
    assert (state["status"], state["amount_received"], state["payment_method_type"]) == (
        "succeeded",
        2000,
        "card",
    )
    assert state["receipt_url"] == "https://pay.stripe.com/receipts/ch_Test1"
    assert state["failure_code"] is None


def test_a_declined_card_keeps_the_failure_code_and_message() -> None:
    memory = Memory()
    memory.apply(
        event(
            "payment_intent.payment_failed",
            payment_intent(status="requires_payment_method", error=DECLINED),
        )
    )
    state = memory.state("pi_Test1")
    assert (state["status"], state["failure_code"], state["decline_code"]) == (
        "requires_payment_method",
        "card_declined",
        "insufficient_funds",
    )
    assert state["failure_message"] == "Your card has insufficient funds."


def test_a_retry_that_succeeds_clears_the_failure() -> None:
    memory = Memory()
    memory.apply(
        event(
            "payment_intent.payment_failed",
            payment_intent(status="requires_payment_method", error=DECLINED),
            created=100,
        )
    )
    memory.apply(event("payment_intent.succeeded", payment_intent(), created=200))
    assert (memory.state("pi_Test1")["status"], memory.state("pi_Test1")["failure_code"]) == (
        "succeeded",
        None,
    )


def test_sepa_debit_processes_for_days_then_succeeds() -> None:
    memory = Memory()
    sepa = ("sepa_debit",)
    memory.apply(
        event(
            "payment_intent.processing",
            payment_intent(status="processing", methods=sepa),
            created=100,
        )
    )
    memory.apply(
        event("charge.pending", charge(status="pending", method_type="sepa_debit"), created=100)
    )
    assert (
        memory.state("pi_Test1")["status"],
        memory.state("pi_Test1")["payment_method_type"],
    ) == ("processing", "sepa_debit")
    memory.apply(
        event("payment_intent.succeeded", payment_intent(methods=sepa), created=100 + 4 * 86400)
    )
    assert memory.state("pi_Test1")["status"] == "succeeded"


def test_ach_debit_that_fails_after_processing() -> None:
    memory = Memory()
    ach = ("us_bank_account",)
    memory.apply(
        event(
            "payment_intent.processing",
            payment_intent(status="processing", methods=ach),
            created=100,
        )
    )
    failed = payment_intent(
        status="requires_payment_method",
        methods=ach,
        error={"code": "insufficient_funds", "message": "NSF"},
    )
    memory.apply(event("payment_intent.payment_failed", failed, created=100 + 3 * 86400))
    state = memory.state("pi_Test1")
    assert (state["status"], state["failure_code"], state["payment_method_type"]) == (
        "requires_payment_method",
        "insufficient_funds",
        "us_bank_account",
    )


def test_failure_within_the_same_second_as_processing_is_ordered_by_previous_attributes() -> None:
    memory = Memory()
    failed = payment_intent(status="requires_payment_method", error=DECLINED)
    memory.apply(
        event(
            "payment_intent.payment_failed",
            failed,
            created=100,
            previous_attributes={"status": "processing"},
        )
    )
    memory.apply(
        event("payment_intent.processing", payment_intent(status="processing"), created=100)
    )
    assert memory.state("pi_Test1")["status"] == "requires_payment_method"


def test_three_d_secure_requires_action_then_succeeds() -> None:
    memory = Memory()
    memory.apply(
        event(
            "payment_intent.requires_action", payment_intent(status="requires_action"), created=100
        )
    )
    assert memory.state("pi_Test1")["status"] == "requires_action"
    memory.apply(event("payment_intent.succeeded", payment_intent(), created=160))
    assert memory.state("pi_Test1")["status"] == "succeeded"


def test_ideal_redirect_that_is_abandoned_is_canceled_and_stays_so() -> None:
    memory = Memory()
    ideal = ("ideal",)
    memory.apply(
        event(
            "payment_intent.canceled", payment_intent(status="canceled", methods=ideal), created=900
        )
    )
    memory.apply(
        event(
            "payment_intent.requires_action",
            payment_intent(status="requires_action", methods=ideal),
            created=100,
        )
    )
    assert (
        memory.state("pi_Test1")["status"],
        memory.state("pi_Test1")["payment_method_type"],
    ) == ("canceled", "ideal")


def test_bank_transfer_waits_partly_funded_in_requires_action() -> None:
    memory = Memory()
    transfer = ("customer_balance",)
    partly = payment_intent(status="requires_action", amount_received=1200, methods=transfer)
    memory.apply(event("payment_intent.partially_funded", partly, created=100))
    state = memory.state("pi_Test1")
    assert (state["status"], state["amount"], state["amount_received"]) == (
        "requires_action",
        2000,
        1200,
    )
    memory.apply(event("payment_intent.succeeded", payment_intent(methods=transfer), created=500))
    assert memory.state("pi_Test1")["amount_received"] == 2000


def test_apple_pay_is_a_card_with_a_wallet() -> None:
    memory = Memory()
    memory.apply(event("charge.succeeded", charge(wallet="apple_pay")))
    memory.apply(event("payment_intent.succeeded", payment_intent()))
    state = memory.state("pi_Test1")
    assert (state["payment_method_type"], state["wallet"]) == ("card", "apple_pay")


def test_partial_refunds_add_up_and_a_failed_refund_gives_the_money_back() -> None:
    memory = Memory()
    memory.apply(event("payment_intent.succeeded", payment_intent(), created=100))
    memory.apply(event("refund.created", refund("re_1", amount=500), created=200))
    memory.apply(event("refund.created", refund("re_2", amount=300), created=300))
    assert memory.state("pi_Test1")["amount_refunded"] == 800
    memory.apply(event("refund.failed", refund("re_2", amount=300, status="failed"), created=400))
    assert memory.state("pi_Test1")["amount_refunded"] == 500
    assert memory.state("pi_Test1")["refunds"]["re_2"]["status"] == "failed"


def test_charge_refunded_without_refund_objects_uses_the_charge_amount() -> None:
    memory = Memory()
    memory.apply(event("payment_intent.succeeded", payment_intent()))
    memory.apply(event("charge.refunded", charge(amount_refunded=2000), created=1_767_300_000))
    assert memory.state("pi_Test1")["amount_refunded"] == 2000


def test_invoice_payment_links_a_current_api_payment_to_its_invoice() -> None:
    memory = Memory()
    memory.apply(event("invoice_payment.paid", invoice_payment()))
    memory.apply(event("payment_intent.succeeded", payment_intent()))
    assert memory.state("pi_Test1")["invoice"] == "in_Test1"


def test_older_api_versions_name_the_invoice_on_the_payment_intent() -> None:
    memory = Memory()
    pre_basil = ApiShape.PRE_BASIL
    intent = payment_intent(invoice_id="in_Old", api=pre_basil)
    memory.apply(event("payment_intent.succeeded", intent, api=pre_basil))
    assert memory.state("pi_Test1")["invoice"] == "in_Old"
