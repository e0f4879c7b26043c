"""PAGES_PLAN_PRICES: the plans /portal/subscriptions offers come from configuration when it
is set (validated at startup), else from the account's catalog."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from billing_ledger.cli import main
from billing_ledger.errors import ConfigurationError
from billing_ledger.settings import Settings
from billing_ledger.stripe_api.client import StripeAnswer
from billing_ledger.stripe_api.errors import InvalidRequest
from billing_ledger.web.pages.plans import Plans
from billing_ledger.web.pages.subscriptions import _offered

MONTHLY = {"interval": "month", "interval_count": 1}
PRICES: dict[str, dict[str, Any]] = {
    "price_team": {"unit_amount": 1500, "currency": "eur", "recurring": MONTHLY},
    "price_business": {"unit_amount": 6000, "currency": "eur", "recurring": MONTHLY},
    "price_enterprise": {"unit_amount": 20000, "currency": "eur", "recurring": MONTHLY},
    "price_yearly": {
        "unit_amount": 15000,
        "currency": "eur",
        "recurring": {"interval": "year", "interval_count": 1},
    },
    "price_dollars": {"unit_amount": 1500, "currency": "usd", "recurring": MONTHLY},
    "price_retired": {"unit_amount": 900, "currency": "eur", "recurring": MONTHLY, "active": False},
}


class Catalog:
    """Stripe's prices and products, by id, and what was asked of them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []

    @property
    def livemode(self) -> bool:
        return False

    def call(
        self,
        resource: str,
        method: str,
        *,
        id: str | None = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        account: str | None = None,
    ) -> StripeAnswer:
        self.calls.append((resource, method, id))
        if (resource, method) == ("prices", "list"):
            listed = [self._price(p) for p in PRICES if PRICES[p]["currency"] == "eur"]
            named = [{**p, "product": {"id": p["product"], "name": p["id"]}} for p in listed]
            return StripeAnswer({"object": "list", "data": named})
        if (resource, method) == ("prices", "retrieve") and id in PRICES:
            return StripeAnswer(self._price(id))
        if (resource, method) == ("products", "retrieve") and id:
            return StripeAnswer({"id": id, "name": id.removeprefix("prod_").title()})
        raise InvalidRequest(f"No such {resource}: {id}", code="resource_missing")

    @staticmethod
    def _price(price: str) -> dict[str, Any]:
        return {"id": price, "product": f"prod_{price.removeprefix('price_')}", **PRICES[price]}


def test_the_setting_takes_price_ids_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGES_PLAN_PRICES", " price_team, price_business ")
    assert Settings.from_env().PAGES_PLAN_PRICES == ["price_team", "price_business"]
    monkeypatch.setenv("PAGES_PLAN_PRICES", "")
    assert Settings.from_env().PAGES_PLAN_PRICES == []
    monkeypatch.delenv("PAGES_PLAN_PRICES")
    assert Settings.from_env().PAGES_PLAN_PRICES == []  # the default: the catalog's


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("price_team,prod_team", "'prod_team' is not a Stripe price id"),
        ("price_team,,price_business", "'' is not a Stripe price id"),
        ("price_team;price_business", "is not a Stripe price id"),
        ("price_team,price_team", "names a price twice"),
    ],
)
def test_a_value_that_is_not_a_list_of_price_ids_is_a_startup_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str, said: str
) -> None:
    monkeypatch.setenv("PAGES_PLAN_PRICES", value)
    with pytest.raises(ConfigurationError, match=f"PAGES_PLAN_PRICES: .*{said}"):
        Settings.from_env()
    assert main(["status"]) == 2  # every command, `up` too, stops before it starts
    error = capsys.readouterr().err
    assert error.startswith("billing-ledger: invalid settings: PAGES_PLAN_PRICES") and said in error
    assert "Traceback" not in error


def test_configured_plans_are_the_only_choices_billed_like_the_current_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stripe = Catalog()
    offered = ("price_team", "price_business", "price_yearly", "price_dollars", "price_gone")
    plans = Plans(stripe, "", offered)
    current = plans.plan("price_team", "eur")
    assert current is not None and current.name == "Team"
    with caplog.at_level(logging.WARNING):
        choices = plans.choices(current)
    # price_enterprise is in the catalog but not configured; the yearly and the dollar prices
    # are billed otherwise; price_gone is not at Stripe (said in the log, once, not offered).
    assert [p.price for p in choices] == ["price_business"]
    assert choices[0].label == "Business — €60.00 per month"
    assert [r.getMessage() for r in caplog.records] == ["a configured plan is not offered"]
    assert ("prices", "list", None) not in stripe.calls  # asked by id, once per page view
    asked = len(stripe.calls)
    plans.choices(current)
    assert len(stripe.calls) == asked


def test_without_the_setting_the_catalog_offers_every_active_price_billed_alike() -> None:
    plans = Plans(Catalog(), "")
    current = plans.plan("price_team", "eur")
    assert current is not None
    assert [p.price for p in plans.choices(current)] == ["price_business", "price_enterprise"]


def test_a_change_is_accepted_only_to_a_configured_plan() -> None:
    sub = {
        "status": "active",
        "items": {"data": [{"price": {"id": "price_team", "currency": "eur"}}]},
    }
    offered = ("price_team", "price_business")
    chosen = _offered(Plans(Catalog(), "", offered), sub, "price_business")
    assert chosen is not None and chosen.price == "price_business"
    assert _offered(Plans(Catalog(), "", offered), sub, "price_enterprise") is None
    assert _offered(Plans(Catalog(), "", ()), sub, "price_enterprise") is not None
