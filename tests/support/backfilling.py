"""A Stripe account with history in the stand-in, and ledgers that learn it by webhooks or by
backfill, so tests can compare what each ends with."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from billing_ledger.eventlog.port import LISTED
from billing_ledger.stripe_api.backfill import Backfill, Report
from billing_ledger.stripe_api.client import Backoff, StripeAnswer, StripeGateway
from billing_ledger.stripe_api.cursors import BackfillKey, CursorStore
from billing_ledger.stripe_api.fake import FakeStripe, fake_stripe
from billing_ledger.stripe_api.fetched import Appender
from billing_ledger.stripe_api.paging import Lister, Pace
from tests.pipeline import Pipeline
from tests.support.http_server import serving

# Tables whose rows record when and by which event a row last changed, or which are the
# journal and MRR (compared by their balances, and from the backfill's month on).
CHANGE_COLUMNS = ("updated_at", "stripe_event_id")
CURRENT_TABLES = (
    "stripe_customers",
    "subscriptions",
    "subscription_items",
    "invoices",
    "payment_transactions",
    "refunds",
    "disputes",
    "payment_methods",
)


@dataclass
class Account:
    """The stand-in, its history made through the official SDK."""

    fake: FakeStripe
    stripe: StripeGateway

    def call(self, resource: str, method: str, **kwargs: Any) -> dict[str, Any]:
        return self.stripe.call(resource, method, **kwargs).object

    def events(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(e) for e in self.fake.store.events]


@contextmanager
def stand_in() -> Iterator[Account]:
    """The stand-in, delivering no webhooks (each test delivers the events it wants)."""
    with fake_stripe("http://unset", None, None, settle_seconds=0.05) as fake:
        with serving(fake.app) as url:
            fake.store.public_url = url
            gateway = StripeGateway(
                "sk_test_backfill", api_base=url, backoff=Backoff(base=0.01, cap=0.02)
            )
            yield Account(fake, gateway)


def make_history(account: Account, customers: int, connect: str | None = None) -> None:
    """Customers with tax ids and cards, payments (one declined, some refunded), and one-off
    invoices paid by card, one of them with more lines than a list embeds; in the Connect
    account `connect` if given (through `Stripe-Account`)."""

    def call(resource: str, method: str, **kwargs: Any) -> dict[str, Any]:
        return account.call(resource, method, account=connect, **kwargs)

    methods = ("pm_card_visa", "pm_card_mastercard", "pm_card_chargeDeclined")
    for n in range(customers):
        params: dict[str, Any] = {"email": f"person{n}@example.com", "name": f"Person {n}"}
        if n % 4 == 0:
            params["tax_id_data"] = [{"type": "eu_vat", "value": f"DE{n:09d}"}]
        customer = call("customers", "create", params=params)
        method = call(
            "payment_methods", "attach", id="pm_card_visa", params={"customer": customer["id"]}
        )
        if n % 3 == 0:
            try:
                intent = call(
                    "payment_intents",
                    "create",
                    params={
                        "amount": 1000 + n,
                        "currency": "eur",
                        "customer": customer["id"],
                        "payment_method": methods[n % len(methods)],
                        "confirm": True,
                    },
                )
            except Exception:
                continue
            if n % 2 == 0 and intent.get("status") == "succeeded":
                call("refunds", "create", params={"payment_intent": intent["id"], "amount": 100})
        if n % 5 == 1:
            for line in range(12 if n == 1 else 2):
                call(
                    "invoice_items",
                    "create",
                    params={"customer": customer["id"], "amount": 500 + line, "currency": "eur"},
                )
            invoice = call("invoices", "create", params={"customer": customer["id"]})
            call("invoices", "finalize_invoice", id=invoice["id"])
            call("invoices", "pay", id=invoice["id"], params={"payment_method": method["id"]})


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, as the test gives it part-way through a backfill."""


class InterruptingStripe:
    """The stand-in's client, interrupted (as by Ctrl-C) at its `after`-th list request."""

    def __init__(self, stripe: StripeGateway, after: int) -> None:
        self._stripe, self._after, self.lists = stripe, after, 0

    @property
    def livemode(self) -> bool:
        return self._stripe.livemode

    def call(self, resource: str, method: str, **kwargs: Any) -> StripeAnswer:
        if method == "list":
            self.lists += 1
            if self.lists == self._after:
                raise Interrupted
        return self._stripe.call(resource, method, **kwargs)


def backfill(
    ledger: Pipeline,
    stripe: StripeGateway | InterruptingStripe,
    cursors: CursorStore,
    *,
    since: int = 0,
    report: Report = lambda status: None,
    connect: str = "",
) -> int:
    """Backfill the platform account (or the Connect account `connect`) into `ledger`'s log;
    how many snapshots it appended."""
    lister = Lister(stripe, connect, pace=Pace(per_second=1000.0), page_size=7)
    appender = Appender(ledger.log, ledger.sealer, LISTED)
    key = BackfillKey(connect, False, since)
    return Backfill(lister, appender, cursors, key, report).run().appended


def current_rows(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every current row of the tables the product shows, without the columns that say when
    and by which event it last changed (a backfill's snapshot is not Stripe's event)."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(dsn) as conn:
        for table in CURRENT_TABLES:
            columns = [
                row[0]
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                    "'billing' AND table_name = %s ORDER BY ordinal_position",
                    (table,),
                )
                if row[0] not in CHANGE_COLUMNS
            ]
            selected = ", ".join(f'"{c}"' for c in columns)
            found = conn.execute(f"SELECT {selected} FROM billing.{table}").fetchall()
            rows[table] = sorted(found, key=repr)
    return rows


def differences(
    expected: Mapping[str, list[tuple[Any, ...]]], found: Mapping[str, list[tuple[Any, ...]]]
) -> list[str]:
    """Rows that differ, by their id (the first column), and how: what a failure shows."""
    told = []
    for table, rows in expected.items():
        mine = {row[0]: row for row in found.get(table, [])}
        for row in rows:
            other = mine.pop(row[0], None)
            if other is None:
                told.append(f"{table}: {row[3]} missing")
            elif other != row:
                changed = [
                    (n, a, b) for n, (a, b) in enumerate(zip(row, other, strict=False)) if a != b
                ]
                told.append(f"{table}: {row[3]} differs at {changed}")
        told.extend(f"{table}: {row[3]} extra" for row in mine.values())
    return told


def balances(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return sorted(
            conn.execute(
                "SELECT * FROM billing.account_balances WHERE balance_cents <> 0"
            ).fetchall(),
            key=repr,
        )


def deliver(ledger: Pipeline, events: Sequence[Mapping[str, Any]]) -> None:
    """Deliver `events` to `ledger` as verified webhooks, in order, and process them."""
    for document in events:
        ledger.deliver(dict(document))
    ledger.process_all()


DELETING = ("customer.deleted", "customer.discount.deleted", "coupon.deleted", "invoice.deleted")


def seed(account: Account, events: Sequence[Mapping[str, Any]]) -> None:
    """Give the stand-in the account `events` describe: each object as its last event shows
    it (a deleted one gone, as Stripe's lists leave it out), and the events themselves."""
    store = account.fake.store
    for document in events:
        obj = copy.deepcopy(document["data"]["object"])
        if document["type"] in DELETING:
            store.objects.pop(obj["id"], None)
        else:
            store.objects[obj["id"]] = obj
        store.events.append(copy.deepcopy(dict(document)))


def mrr_from(dsn: str, month: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT month, currency, mrr_cents, customers FROM billing.mrr_monthly "
            "WHERE month >= %s::date AND mrr_cents <> 0 ORDER BY month, currency",
            (month,),
        ).fetchall()
