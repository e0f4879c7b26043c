"""Test clocks in the stand-in, as Stripe has them: `/v1/test_helpers/test_clocks`.

A customer created with `test_clock` lives on that clock's `frozen_time`: its objects and
events carry that time. `advance` moves the clock to `frozen_time`, running every change of
its customers' subscriptions that falls due on the way, each at its own moment and in time
order (`lifecycle.py`): renewals, trials ending, cancellations, pauses resuming. Stripe
advances asynchronously (status `advancing`, then `ready`); the stand-in has finished when it
answers, so a client that waits for `ready` works with both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from billing_ledger.stripe_api.fake import lifecycle
from billing_ledger.stripe_api.fake.formdata import integer
from billing_ledger.stripe_api.fake.store import Store, invalid

KIND = "test_helpers.test_clock"
DELETES_AFTER_DAYS = 30
MAX_STEPS = 10_000


def create(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    frozen = integer(params.get("frozen_time"), "frozen_time")
    clock = store.add(
        {
            "id": store.new_id("clock"),
            "object": KIND,
            "created": frozen,
            "deletes_after": frozen + DELETES_AFTER_DAYS * 86_400,
            "frozen_time": frozen,
            "livemode": False,
            "name": params.get("name"),
            "status": "ready",
            "status_details": {},
        }
    )
    store.clock = clock["id"]
    store.event("test_helpers.test_clock.created", clock)
    return clock


def advance(store: Store, clock_id: str, params: dict[str, Any]) -> dict[str, Any]:
    clock = store.get(clock_id, KIND)
    target = integer(params.get("frozen_time"), "frozen_time")
    if target <= clock["frozen_time"]:
        raise invalid(
            "The frozen_time must be after the test clock's current frozen time.", "frozen_time"
        )
    store.clock = clock_id
    clock["status"] = "advancing"
    store.event("test_helpers.test_clock.advancing", clock)
    for _ in range(MAX_STEPS):
        due = _earliest(store, clock_id, target)
        if due is None:
            break
        moment, action, sub = due
        clock["frozen_time"] = max(moment, clock["frozen_time"])
        action(store, sub)
    clock.update(frozen_time=target, status="ready")
    store.event("test_helpers.test_clock.ready", clock)
    return clock


def clock_for(store: Store, object_id: str, params: dict[str, Any]) -> str | None:
    """The test clock a request acts at: its customer's, if any."""
    clock_id = params.get("test_clock")
    if not isinstance(clock_id, str):
        customer = _customer_of(store, object_id, params)
        found = store.objects.get(customer or "") or {}
        clock_id = found.get("test_clock")
    clock = store.objects.get(clock_id) if isinstance(clock_id, str) else None
    return str(clock["id"]) if clock and clock.get("object") == KIND else None


def _customer_of(store: Store, object_id: str, params: dict[str, Any]) -> str | None:
    if isinstance(params.get("customer"), str):
        return str(params["customer"])
    for reference in (params.get("subscription"), object_id):
        found = store.objects.get(reference) if isinstance(reference, str) else None
        if found is not None:
            if found.get("object") == "customer":
                return str(found["id"])
            owner = found.get("customer")
            return owner if isinstance(owner, str) else None
    return None


def _earliest(
    store: Store, clock_id: str, target: int
) -> tuple[int, Callable[[Store, dict[str, Any]], None], dict[str, Any]] | None:
    best = None
    for sub in store.all("subscription"):
        if sub.get("test_clock") != clock_id:
            continue
        due = lifecycle.next_due(store, sub)
        if due is not None and due[0] <= target and (best is None or due[0] < best[0]):
            best = (due[0], due[1], sub)
    return best
