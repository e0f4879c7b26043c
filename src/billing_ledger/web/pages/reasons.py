"""A failed payment's reason as the customer reads it, from Stripe's codes.

Stripe's own `message` is readable already; these say what to do next. Unknown codes fall
back to Stripe's message, and that to a generic sentence: never a code alone, never a trace.
"""

from __future__ import annotations

from typing import Any

REASONS = {
    "insufficient_funds": "Your card has insufficient funds. Try another card.",
    "generic_decline": "Your card was declined. Try another card or contact your bank.",
    "card_declined": "Your card was declined. Try another card or contact your bank.",
    "expired_card": "Your card has expired. Use another card.",
    "incorrect_cvc": "The security code is incorrect. Check it and try again.",
    "processing_error": "An error occurred while processing your card. Try again.",
    "payment_intent_authentication_failure": (
        "Your bank could not confirm this payment (3-D Secure was not completed). "
        "Try again or use another card."
    ),
    "authentication_required": "Your bank asks you to confirm this payment. Try again.",
    "payment_intent_payment_attempt_failed": (
        "Your bank did not authorize this payment, so nothing was charged. "
        "Try again or choose another payment method."
    ),
}
GENERIC = "The payment did not go through. Try again or use another payment method."


def readable_reason(error: dict[str, Any] | None) -> str:
    if not error:
        return GENERIC
    for code in (error.get("decline_code"), error.get("code")):
        if isinstance(code, str) and code in REASONS:
            return REASONS[code]
    message = error.get("message")
    return message if isinstance(message, str) and message else GENERIC
