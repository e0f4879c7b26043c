"""The hard histories' generator (tests/support/hard_histories.py) itself: the same seed gives
the same events; each object's snapshots go forward in time, as Stripe's do; and a few seeds
hold everything the generator promises."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.support.hard_histories import SCOPES, Shape, deliveries, hard_history

SEEDS = range(6)


def test_a_seed_gives_the_same_history_and_deliveries() -> None:
    first, again = hard_history(Shape(3)), hard_history(Shape(3))
    assert first.events == again.events
    assert deliveries(first.events, 3) == deliveries(again.events, 3)
    assert hard_history(Shape(4)).events != first.events


def test_each_object_moves_forward_in_time() -> None:
    for seed in SEEDS:
        last_seen: dict[tuple[Any, ...], int] = {}
        for document in hard_history(Shape(seed)).events:
            key = (document.get("account"), document["livemode"], document["data"]["object"]["id"])
            assert document["created"] >= last_seen.get(key, 0), (seed, document["type"], key)
            last_seen[key] = document["created"]


def test_deliveries_are_shuffled_with_duplicates_and_late_redeliveries() -> None:
    events = hard_history(Shape(0)).events
    delivered = deliveries(events, 0)
    copies = Counter(document["id"] for document in delivered)
    assert set(copies) == {document["id"] for document in events}
    assert 0.3 < sum(n - 1 for n in copies.values()) / len(events) < 0.5
    assert [d["id"] for d in delivered[: len(events)]] != [d["id"] for d in events]
    position = {document["id"]: n for n, document in enumerate(events)}
    late = [n - position[d["id"]] for n, d in enumerate(delivered)]
    assert max(late) > len(events) // 4  # some come back long after


def test_a_few_seeds_hold_every_hard_case() -> None:
    seen: Counter[str] = Counter()
    for seed in SEEDS:
        history = hard_history(Shape(seed))
        for document in history.events:
            seen.update(_cases(document))
        seen.update(
            "several events of one object in one second"
            for n, (a, b) in enumerate(zip(history.events, history.events[1:], strict=False))
            if n and _same_object_and_second(a, b)
        )
    assert {case for case, count in seen.items() if count} >= EVERY_CASE, EVERY_CASE - set(seen)


EVERY_CASE = {
    *(f"scope {account or 'platform'} {'live' if live else 'test'}" for account, live in SCOPES),
    "several events of one object in one second",
    "seats changed inside items.data",
    "several items",
    "graduated tiers",
    "volume tiers",
    "customer card set in a nested change",
    "customer discount applied",
    "customer discount removed",
    "subscription discount",
    "trial converted",
    "trial lapsed into pause",
    "resumed",
    "trial ended canceled",
    "3-D Secure abandoned",
    "SEPA debit failed",
    "written off",
    "partial refund",
    "failed refund",
    "dispute won",
    "dispute lost",
    "pause_collection set",
    "canceled at period end",
    "old-shape payment naming no invoice",
}


def _cases(document: dict[str, Any]) -> list[str]:
    obj, kind = document["data"]["object"], document["type"]
    previous = document["data"].get("previous_attributes") or {}
    mode = "live" if document["livemode"] else "test"
    found = [f"scope {document.get('account') or 'platform'} {mode}"]
    prices = [item["price"] for item in obj.get("items", {}).get("data", [])]
    found += ["several items"] if len(prices) > 1 else []
    found += [f"{p['tiers_mode']} tiers" for p in prices if p["billing_scheme"] == "tiered"]
    if "items" in previous and any(
        a["quantity"] != b["quantity"]
        for a, b in zip(previous["items"]["data"], obj["items"]["data"], strict=False)
    ):
        found.append("seats changed inside items.data")
    if "invoice_settings" in previous:
        found.append("customer card set in a nested change")
    if kind == "customer.discount.created":
        found.append(
            "subscription discount" if obj["subscription"] else "customer discount applied"
        )
    if kind == "customer.discount.deleted":
        found.append("customer discount removed")
    if kind == "customer.subscription.updated" and previous.get("status") == "trialing":
        found.append("trial converted")
    if kind == "customer.subscription.paused":
        found.append("trial lapsed into pause")
    if kind == "customer.subscription.resumed":
        found.append("resumed")
    if kind == "customer.subscription.deleted" and previous.get("status") == "trialing":
        found.append("trial ended canceled")
    if obj.get("status") == "incomplete_expired":
        found.append("3-D Secure abandoned")
    if kind == "payment_intent.payment_failed" and obj["payment_method_types"] == ["sepa_debit"]:
        found.append("SEPA debit failed")
    if kind == "invoice.marked_uncollectible":
        found.append("written off")
    if kind == "refund.updated":
        found.append("failed refund" if obj["status"] == "failed" else "partial refund")
    if kind == "charge.dispute.closed":
        found.append(f"dispute {obj['status']}")
    if "pause_collection" in previous and obj["pause_collection"]:
        found.append("pause_collection set")
    if kind == "customer.subscription.deleted" and obj["cancel_at_period_end"]:
        found.append("canceled at period end")
    if (
        kind == "payment_intent.succeeded"
        and document["api_version"] < "2025"
        and not obj.get("invoice")
    ):
        found.append("old-shape payment naming no invoice")
    return found


def _same_object_and_second(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def key(d: dict[str, Any]) -> tuple[Any, ...]:
        return (d.get("account"), d["livemode"], d["data"]["object"]["id"], d["created"])

    return key(a) == key(b) and "previous_attributes" in b["data"]
