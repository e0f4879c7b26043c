"""Redirects in the stand-in: the test bank page of iDEAL and the way back to `return_url`.

A PaymentIntent confirmed with iDEAL is `requires_action` with `next_action.redirect_to_url`
naming `/authorize/{intent}`, the stand-in's version of Stripe's test redirect page: "Authorize
test payment" succeeds the payment (`charge.succeeded`, `payment_intent.succeeded`), "Fail test
payment" fails it (`charge.failed`, `payment_intent.payment_failed`; the intent is
`requires_payment_method` again, its payment method removed, as Stripe does). Either way the
browser goes back to the `return_url` with the query Stripe appends to it: `payment_intent`,
`payment_intent_client_secret` and `redirect_status` (`setup_intent…` for a SetupIntent), which
the 3-D Secure challenge's return gets too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from billing_ledger.stripe_api.fake.store import Store, invalid

ATTEMPT_FAILED = (
    "The latest payment attempt of this PaymentIntent has failed or been canceled, and the "
    "attached payment method has been removed. You can try confirming again with a new "
    "payment method."
)


def bank_redirect(store: Store, intent_id: str, return_url: Any) -> dict[str, Any]:
    """The `next_action` of a payment the customer authorizes at their bank."""
    if not isinstance(return_url, str) or not return_url:
        raise invalid(
            "A return_url is required to confirm a PaymentIntent with a redirect-based "
            "payment method such as ideal.",
            "return_url",
        )
    store.return_urls[intent_id] = return_url
    return {
        "type": "redirect_to_url",
        "redirect_to_url": {
            "url": f"{store.public_url}/authorize/{intent_id}",
            "return_url": return_url,
        },
    }


def redirect_status(intent: dict[str, Any]) -> str:
    """What Stripe says in `redirect_status` for the intent's state after the redirect."""
    status = str(intent.get("status"))
    return status if status in ("succeeded", "processing") else "failed"


def returned_url(store: Store, intent: dict[str, Any]) -> str | None:
    """The intent's `return_url` with Stripe's query appended (None: it named none)."""
    url = store.return_urls.get(str(intent["id"]))
    if url is None:
        return None
    name = "setup_intent" if intent.get("object") == "setup_intent" else "payment_intent"
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [
        (name, str(intent["id"])),
        (f"{name}_client_secret", str(intent["client_secret"])),
        ("redirect_status", redirect_status(intent)),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def authorization_page(intent: dict[str, Any]) -> str:
    """The test bank page (as Stripe's test redirect page: two buttons, no bank login)."""
    amount = f"{intent['amount'] / 100:.2f} {str(intent['currency']).upper()}"
    method = "iDEAL"
    return (
        '<!doctype html><html lang="en"><title>Test payment authorization</title>'
        f"<h1>{method} test payment</h1>"
        f"<p>Payment {intent['id']} of {amount}. This is a test bank page: no money moves.</p>"
        '<form method="post">'
        '<button name="result" value="authorize">Authorize test payment</button> '
        '<button name="result" value="fail">Fail test payment</button></form></html>'
    )
