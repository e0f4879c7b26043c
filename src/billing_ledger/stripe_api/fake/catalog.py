"""Stripe's test payment methods the stand-in knows, and how each behaves.

| token | type | confirming a payment |
|---|---|---|
| `pm_card_visa`, `pm_card_mastercard`, `pm_card_amex` | card | succeeds |
| `pm_card_chargeDeclined` | card | declined: `card_declined`, `generic_decline` |
| `pm_card_chargeDeclinedInsufficientFunds` | card | declined: `insufficient_funds` |
| `pm_card_authenticationRequired` | card | `requires_action` (3-D Secure) until challenged |
| `pm_sepa_debit` | sepa_debit | `processing`, then `succeeded` after the settle delay |
| `pm_usBankAccount` | us_bank_account | `processing`, then `succeeded` after the settle delay |

As on Stripe, using a token creates a new `pm_…` object that behaves like the token.

Stripe.js creates the others from `payment_method_data` (`PAYMENT_METHOD_DATA`):
- `{type: ideal, ideal: {bank}}`: iDEAL, `requires_action` with a redirect to the stand-in's
  test bank page (`/authorize/{intent}`: authorize or fail), as Stripe's test redirect does;
- `{type: card, card: {token: tok_visa_apple_pay | tok_visa_google_pay}}`: the card a wallet
  (Apple Pay, Google Pay) hands over, a Visa •••• 4242 with `card.wallet.type` set; it
  succeeds as `pm_card_visa` does. (Stripe.js turns the wallet's payment sheet into such a
  token; the stand-in's Stripe.js double uses these two.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Behaviour = Literal["succeed", "decline", "authenticate", "settle", "redirect"]


@dataclass(frozen=True)
class TestMethod:
    type: str
    behaviour: Behaviour
    details: dict[str, Any] = field(default_factory=dict)
    decline_code: str | None = None


def _card(brand: str, last4: str) -> dict[str, Any]:
    return {
        "brand": brand,
        "last4": last4,
        "exp_month": 12,
        "exp_year": 2034,
        "country": "US",
        "funding": "credit",
        "wallet": None,
        "checks": {
            "cvc_check": "pass",
            "address_line1_check": None,
            "address_postal_code_check": None,
        },
        "three_d_secure_usage": {"supported": True},
        "networks": {"available": [brand], "preferred": None},
        "display_brand": brand,
    }


TEST_METHODS: dict[str, TestMethod] = {
    "pm_card_visa": TestMethod("card", "succeed", _card("visa", "4242")),
    "pm_card_mastercard": TestMethod("card", "succeed", _card("mastercard", "4444")),
    "pm_card_amex": TestMethod("card", "succeed", _card("amex", "8431")),
    "pm_card_chargeDeclined": TestMethod(
        "card", "decline", _card("visa", "0002"), decline_code="generic_decline"
    ),
    "pm_card_chargeDeclinedInsufficientFunds": TestMethod(
        "card", "decline", _card("visa", "9995"), decline_code="insufficient_funds"
    ),
    "pm_card_authenticationRequired": TestMethod("card", "authenticate", _card("visa", "3184")),
    "pm_sepa_debit": TestMethod(
        "sepa_debit",
        "settle",
        {"bank_code": "37040044", "branch_code": "", "country": "DE", "last4": "3000"},
    ),
    "pm_usBankAccount": TestMethod(
        "us_bank_account",
        "settle",
        {
            "account_holder_type": "individual",
            "account_type": "checking",
            "bank_name": "STRIPE TEST BANK",
            "last4": "6789",
            "routing_number": "110000000",
        },
    ),
}


IDEAL_BANKS = {
    "abn_amro": "ABNANL2A",
    "asn_bank": "ASNBNL21",
    "ing": "INGBNL2A",
    "rabobank": "RABONL2U",
    "sns_bank": "SNSBNL2A",
    "triodos_bank": "TRIONL2U",
}
WALLET_TOKENS = {"tok_visa_apple_pay": "apple_pay", "tok_visa_google_pay": "google_pay"}


def ideal_method(bank: str | None) -> TestMethod:
    """An iDEAL payment method of `bank` (any bank Stripe lists, or none: chosen at the bank)."""
    return TestMethod(
        "ideal", "redirect", {"bank": bank, "bic": IDEAL_BANKS.get(bank) if bank else None}
    )


def wallet_method(token: str) -> TestMethod:
    """The card behind a wallet's token: Stripe's `card.wallet` names the wallet."""
    wallet = WALLET_TOKENS[token]
    details = _card("visa", "4242")
    details["wallet"] = {"type": wallet, wallet: {}, "dynamic_last4": "4242"}
    return TestMethod("card", "succeed", details)
