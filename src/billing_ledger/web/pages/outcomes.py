"""What the payment page shows for an intent's state: the form, or the outcome.

PaymentIntent: `requires_payment_method` / `requires_confirmation` → the form (after a failed
attempt, a decline or a bank that did not authorize an iDEAL payment, headed "Payment failed"
with its readable reason); `requires_action` → a button that resumes the bank's
confirmation; `processing` → processing; `succeeded` → succeeded; `canceled` → canceled.
A SetupIntent likewise, its success naming the saved method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from billing_ledger.web.pages.money import display_amount
from billing_ledger.web.pages.reasons import readable_reason

PORTAL_URL = "/portal/payment-methods"
WALLETS = {"apple_pay": "Apple Pay", "google_pay": "Google Pay"}


@dataclass(frozen=True)
class Page:
    template: str
    context: dict[str, Any]


def intent_page(intent: dict[str, Any], method: dict[str, Any] | None, portal: bool) -> Page:
    setup = intent.get("object") == "setup_intent"
    status = intent.get("status")
    amount = None if setup else display_amount(int(intent["amount"]), str(intent["currency"]))
    back = PORTAL_URL if portal else None
    error = intent.get("last_setup_error" if setup else "last_payment_error")
    if status in ("requires_payment_method", "requires_confirmation"):
        return Page(
            "checkout.html",
            {
                "title": "Add a payment method" if setup else "Pay",
                "page": "setup-form" if setup else "payment-form",
                "heading": _form_heading(setup, error),
                "amount": amount,
                "description": intent.get("description"),
                "failure": readable_reason(error) if error else None,
                "mode": "setup" if setup else "payment",
                "button": "Save" if setup else f"Pay {amount}",
                "back_url": back,
            },
        )
    if status == "requires_action":
        return Page(
            "checkout.html",
            {
                "title": "Confirm with your bank",
                "page": "action",
                "heading": "Confirm with your bank",
                "amount": amount,
                "mode": "action",
                "button": "Continue to your bank",
                "back_url": back,
            },
        )
    return Page("message.html", _outcome(status, setup, amount, method, back))


def _form_heading(setup: bool, error: Any) -> str:
    """The form's heading; after a failed attempt (a decline, a bank that said no) it says so,
    and the form below lets the customer try again."""
    if setup:
        return "Add a payment method" if not error else "Your payment method was not saved"
    return "Pay securely" if not error else "Payment failed"


def _outcome(
    status: Any, setup: bool, amount: str | None, method: dict[str, Any] | None, back: str | None
) -> dict[str, Any]:
    if status == "succeeded" and setup:
        saved = _method_label(method)
        return _message(
            "setup-succeeded",
            "ok",
            "Payment method saved",
            [f"{saved} is saved for future payments."],
            f"{PORTAL_URL}?expect=attached:{method['id']}" if back and method else back,
            "Back to payment methods",
        )
    if status == "succeeded":
        return _message(
            "payment-succeeded", "ok", "Payment succeeded", [f"Thank you: {amount} was paid."], back
        )
    if status == "processing":
        lines = (
            ["Your bank is processing this. We will let you know when it is confirmed."]
            if not setup
            else ["Your bank is verifying your account."]
        )
        heading = "Payment processing" if not setup else "Verification in progress"
        return _message("processing", "wait", heading, lines, back)
    if status == "canceled":
        return _message(
            "canceled", "error", "This payment was canceled", ["Nothing was charged."], back
        )
    return _message(
        "unknown", "wait", "We are checking this payment", ["Please reload in a moment."], back
    )


def _message(
    page: str,
    tone: str,
    heading: str,
    lines: list[str],
    next_url: str | None,
    next_label: str = "Back to payment methods",
) -> dict[str, Any]:
    return {
        "title": heading,
        "page": page,
        "tone": tone,
        "heading": heading,
        "lines": lines,
        "next_url": next_url,
        "next_label": next_label,
    }


def _method_label(method: dict[str, Any] | None) -> str:
    if not method:
        return "Your payment method"
    card = method.get("card") or {}
    if card:
        label = f"{str(card.get('brand', 'Card')).title()} •••• {card.get('last4', '')}"
        wallet = (card.get("wallet") or {}).get("type")
        return f"{label} ({WALLETS.get(wallet, wallet)})" if wallet else label
    details = method.get(str(method.get("type"))) or {}
    last4 = details.get("last4") if isinstance(details, dict) else None
    return f"{str(method.get('type', '')).replace('_', ' ').title()} •••• {last4 or ''}".strip()
