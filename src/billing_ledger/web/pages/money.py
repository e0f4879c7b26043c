"""Amounts as a customer reads them: integer minor units and Stripe's currency code to text."""

from __future__ import annotations

ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
"""Stripe's zero-decimal currencies: the amount is in whole units."""
SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£", "jpy": "¥", "chf": "CHF ", "inr": "₹"}


def display_amount(amount: int, currency: str) -> str:
    """`2000, "eur"` → `€20.00`; `500, "jpy"` → `¥500`; unknown codes as `12.34 SEK`."""
    code = currency.lower()
    if code in ZERO_DECIMAL:
        number = f"{amount:,}"
    else:
        units, cents = divmod(abs(amount), 100)
        number = f"{'-' if amount < 0 else ''}{units:,}.{cents:02d}"
    symbol = SYMBOLS.get(code)
    return f"{symbol}{number}" if symbol else f"{number} {code.upper()}"
