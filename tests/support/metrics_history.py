"""One small billing history whose every metric is computed by hand (tests/integration/
test_metrics.py holds the figures): four customers over January to March 2026.

- A pays 10.00 a month from Jan 2; its February invoice fails on Feb 1 and is paid Feb 4.
- B pays 20.00 from Jan 3, is past_due from Feb 10 (its invoice failed, never paid) and is
  canceled on Mar 2: involuntary churn.
- C trials from Jan 5 and pays 30.00 from Feb 5 (through 3-D Secure, completed).
- D trials from Jan 6 and cancels on Jan 20: voluntary, never converted.
- A 3-D Secure challenge asked on Mar 10 is never completed; a SEPA debit succeeds on Mar 12.
- The latest event is on Mar 15.
"""

from __future__ import annotations

from typing import Any

from tests.support.stripe import charge, event, invoice, payment_intent, stripe_object, subscription

DAY = 86_400
JAN, FEB, MAR = 1_767_225_600, 1_769_904_000, 1_772_323_200


def subscription_event(
    sub_id: str, customer: str, amount: int, status: str, at: int, kind: str = "updated"
) -> dict[str, Any]:
    return event(
        f"customer.subscription.{'deleted' if status == 'canceled' else kind}",
        subscription(sub_id, customer, status=status, unit_amount=amount),
        created=at,
        event_id=f"evt_{sub_id}_{at}",
    )


def _intent(pi: str, customer: str, status: str, at: int, **kw: Any) -> dict[str, Any]:
    kind = {
        "succeeded": "payment_intent.succeeded",
        "requires_action": "payment_intent.requires_action",
        "requires_payment_method": "payment_intent.payment_failed",
    }[status]
    return event(
        kind,
        payment_intent(pi, customer, status=status, created=kw.pop("created", at), **kw),
        created=at,
        event_id=f"evt_{pi}_{status}_{at}",
    )


def _charge(ch: str, pi: str, status: str, at: int, method: str = "card") -> dict[str, Any]:
    obj = charge(ch, pi, status=status, method_type=method)
    obj["created"] = at
    return event(f"charge.{status}", obj, created=at, event_id=f"evt_{ch}_{at}")


def _invoice(inv: str, customer: str, sub: str, kind: str, at: int, **kw: Any) -> dict[str, Any]:
    obj = invoice(inv, customer, subscription_id=sub, created=FEB, **kw)
    return event(kind, obj, created=at, event_id=f"evt_{inv}_{kind}_{at}")


def history() -> list[dict[str, Any]]:
    declined = {"code": "card_declined", "message": "Your card was declined.", "type": "card_error"}
    return [
        subscription_event("sub_A", "cus_A", 1000, "active", JAN + 1 * DAY, "created"),
        subscription_event("sub_B", "cus_B", 2000, "active", JAN + 2 * DAY, "created"),
        subscription_event("sub_C", "cus_C", 3000, "trialing", JAN + 4 * DAY, "created"),
        subscription_event("sub_D", "cus_D", 4000, "trialing", JAN + 5 * DAY, "created"),
        subscription_event("sub_D", "cus_D", 4000, "canceled", JAN + 19 * DAY),
        subscription_event("sub_C", "cus_C", 3000, "active", FEB + 4 * DAY),
        subscription_event("sub_B", "cus_B", 2000, "past_due", FEB + 9 * DAY),
        subscription_event("sub_B", "cus_B", 2000, "canceled", MAR + 1 * DAY),
        # Payments: A's first succeeds; B's fails twice; C's passes 3-D Secure.
        _intent("pi_1", "cus_A", "succeeded", JAN + 1 * DAY),
        _charge("ch_1", "pi_1", "succeeded", JAN + 1 * DAY),
        _intent("pi_2", "cus_B", "requires_payment_method", FEB + 9 * DAY, error=declined),
        _charge("ch_2", "pi_2", "failed", FEB + 9 * DAY),
        _charge("ch_3", "pi_2", "failed", FEB + 11 * DAY),
        _intent("pi_3", "cus_C", "requires_action", FEB + 4 * DAY),
        _intent("pi_3", "cus_C", "succeeded", FEB + 4 * DAY + 60, created=FEB + 4 * DAY),
        _charge("ch_4", "pi_3", "succeeded", FEB + 4 * DAY + 60),
        _intent("pi_4", "cus_A", "requires_action", MAR + 9 * DAY),
        _intent("pi_5", "cus_A", "succeeded", MAR + 11 * DAY),
        _charge("ch_5", "pi_5", "succeeded", MAR + 11 * DAY, method="sepa_debit"),
        # Dunning: A's February invoice fails, then is paid 3 days later; B's never is.
        _invoice("in_A2", "cus_A", "sub_A", "invoice.payment_failed", FEB, total=1000),
        _invoice(
            "in_A2",
            "cus_A",
            "sub_A",
            "invoice.paid",
            FEB + 3 * DAY,
            total=1000,
            status="paid",
            amount_paid=1000,
            transitions={"paid_at": FEB + 3 * DAY},
        ),
        _invoice("in_B1", "cus_B", "sub_B", "invoice.payment_failed", FEB + 9 * DAY, total=2000),
        event(
            "customer.created",
            stripe_object("customer", id="cus_E", created=MAR + 14 * DAY),
            created=MAR + 14 * DAY,
        ),
    ]
