"""A customer's saved payment methods as the ledger knows them (`billing.payment_methods`,
filled by Stripe's webhooks), with the customer's default marked. Never a number: Stripe
sends only a card's brand, last4, expiry and wallet, a bank account's last4 and bank, and that
is all there is to show."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg_pool import ConnectionPool

from billing_ledger.domain.identity import stripe_uuid

METHODS = (
    "SELECT stripe_payment_method_id, type, card_brand, card_last4, card_exp_month, "
    "card_exp_year, wallet, bank_name, bank_last4 FROM billing.payment_methods "
    "WHERE account_id = %s AND livemode = %s AND customer_id = %s AND status = 'attached' "
    "ORDER BY created_at, stripe_payment_method_id"
)
DEFAULT = (
    "SELECT default_payment_method FROM billing.stripe_customers "
    "WHERE account_id = %s AND livemode = %s AND stripe_customer_id = %s"
)
TYPES = {"card": "Card", "sepa_debit": "SEPA Debit", "us_bank_account": "US bank account"}


@dataclass(frozen=True)
class SavedMethod:
    id: str
    type: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    wallet: str | None
    bank: str | None
    bank_last4: str | None
    default: bool

    @property
    def label(self) -> str:
        kind = (self.brand or "").replace("_", " ").title() or TYPES.get(self.type, self.type)
        last4 = self.last4 or self.bank_last4
        return f"{kind} •••• {last4}" if last4 else kind

    @property
    def expiry(self) -> str | None:
        if self.exp_month is None or self.exp_year is None:
            return None
        return f"{self.exp_month:02d}/{self.exp_year % 100:02d}"


class SavedMethods:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def __call__(self, customer: str, account: str, livemode: bool) -> list[SavedMethod]:
        with self._pool.connection() as conn:
            found = conn.execute(
                METHODS, (account, livemode, stripe_uuid(account, livemode, customer))
            ).fetchall()
            row = conn.execute(DEFAULT, (account, livemode, customer)).fetchone()
        default = row[0] if row else None
        return [
            SavedMethod(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[0] == default)
            for r in found
        ]
