"""The customer pages' pure parts: what they say, what they allow, how they look."""

from __future__ import annotations

import pytest

from billing_ledger.stripe_api.fake import customers, payments
from billing_ledger.stripe_api.fake.store import Store, StripeFailure
from billing_ledger.stripe_api.fake.stripejs import browser_request, is_browser_request, script
from billing_ledger.web.pages.money import display_amount
from billing_ledger.web.pages.outcomes import intent_page
from billing_ledger.web.pages.reasons import GENERIC, readable_reason
from billing_ledger.web.pages.security import content_security_policy
from billing_ledger.web.pages.theme import Theme


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (2000, "eur", "€20.00"),
        (123456, "usd", "$1,234.56"),
        (500, "jpy", "¥500"),
        (5, "sek", "0.05 SEK"),
    ],
)
def test_amounts_read_as_money(amount: int, currency: str, shown: str) -> None:
    assert display_amount(amount, currency) == shown


def test_a_failure_reads_as_what_to_do_never_as_a_bare_code() -> None:
    assert readable_reason({"code": "card_declined", "decline_code": "insufficient_funds"}) == (
        "Your card has insufficient funds. Try another card."
    )
    assert (
        readable_reason({"code": "weird_code", "message": "Stripe says so."}) == "Stripe says so."
    )
    assert readable_reason({"code": "weird_code"}) == GENERIC
    assert readable_reason(None) == GENERIC


def test_the_policy_allows_stripes_origins_and_nothing_else_third_party() -> None:
    policy = content_security_policy("https://js.stripe.com/basil/stripe.js", "'none'")
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["script-src"] == "'self' https://js.stripe.com https://*.js.stripe.com"
    assert "https://hooks.stripe.com" in directives["frame-src"]
    assert directives["connect-src"] == "'self' https://api.stripe.com"
    assert directives["style-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    stand_in = content_security_policy("http://127.0.0.1:12113/v3", "https://shop.example")
    assert "script-src 'self' http://127.0.0.1:12113;" in stand_in
    assert "stripe.com" not in stand_in and "frame-ancestors https://shop.example" in stand_in


def test_each_state_of_an_intent_has_its_page() -> None:
    base = {"object": "payment_intent", "amount": 2000, "currency": "eur"}
    form = intent_page({**base, "status": "requires_payment_method"}, None, False)
    assert (form.template, form.context["button"]) == ("checkout.html", "Pay €20.00")
    failed = intent_page(
        {
            **base,
            "status": "requires_payment_method",
            "last_payment_error": {"code": "expired_card"},
        },
        None,
        False,
    )
    assert failed.context["failure"] == "Your card has expired. Use another card."
    assert (
        intent_page({**base, "status": "requires_action"}, None, False).context["mode"] == "action"
    )
    for status, heading in (
        ("succeeded", "Payment succeeded"),
        ("processing", "Payment processing"),
        ("canceled", "This payment was canceled"),
    ):
        page = intent_page({**base, "status": status}, None, False)
        assert (page.template, page.context["heading"]) == ("message.html", heading)
    saved = intent_page(
        {"object": "setup_intent", "status": "succeeded"},
        {"id": "pm_1", "type": "card", "card": {"brand": "visa", "last4": "4242"}},
        True,
    )
    assert saved.context["lines"] == ["Visa •••• 4242 is saved for future payments."]


def test_the_theme_gives_css_and_stripes_appearance_the_same_colours() -> None:
    theme = Theme(primary="#123456")
    assert "--bl-primary: #123456;" in theme.css()
    assert theme.appearance()["variables"]["colorPrimary"] == "#123456"


def test_the_stand_ins_stripe_js_answers_only_an_intents_own_client_secret() -> None:
    store = Store("http://stand-in")
    customer = customers.create_customer(store, {"email": "a@example.com"})
    intent = payments.create_payment_intent(
        store, {"amount": "100", "currency": "eur", "customer": customer["id"]}
    )
    path = f"/v1/payment_intents/{intent['id']}/confirm"
    asked = {"key": "pk_test_x", "client_secret": intent["client_secret"], "payment_method": "x"}
    assert is_browser_request(asked) and not is_browser_request({"key": "sk_test_x"})
    assert browser_request(store, "POST", path, asked) == {"payment_method": "x"}
    for method, where, params, status in (
        ("POST", path, {**asked, "client_secret": "pi_x_secret_y"}, 404),
        ("POST", path, {**asked, "key": "pk_live_x"}, 401),
        ("POST", "/v1/refunds", asked, 404),
        ("GET", f"/v1/customers/{customer['id']}", asked, 404),
    ):
        with pytest.raises(StripeFailure) as refused:
            browser_request(store, method, where, params)
        assert refused.value.status == status
    assert "window.Stripe" in script()
