"""The stand-in's memory: Stripe objects by id, the events they cause, and Stripe's errors.

One lock serialises every request and every timer, so state machines advance one step at a
time and an idempotency key is checked and stored atomically with the request it guards.

Time is the wall clock, except for the objects of a customer on a test clock (`clocks.py`):
while the work for that customer runs, `clock` names that test clock and `now()` is its frozen
time (also for a timer set then, such as a bank debit settling).
Watchers see every event after it is sent (subscriptions follow their invoices' payments).

Each Connect account has a state of its own (`of`), as at Stripe: what is created or listed
with `Stripe-Account: acct_…` lives, and is listed, in that account's store only; its events
name the account. The platform's store holds the accounts' and shares its lock with them.
"""

from __future__ import annotations

import copy
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from billing_ledger.stripe_api.fake.catalog import TEST_METHODS, TestMethod

ALPHABET = string.ascii_letters + string.digits

Emit = Callable[[dict[str, Any]], None]
Watcher = Callable[[str, dict[str, Any]], None]


class StripeFailure(Exception):
    """A Stripe error answer: HTTP status and Stripe's `error` object."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeFailure:
    return StripeFailure(
        400,
        {"type": "invalid_request_error", "message": message, "param": param, "code": code},
    )


def missing(kind: str, object_id: str, param: str = "id") -> StripeFailure:
    return StripeFailure(
        404,
        {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "message": f"No such {kind}: '{object_id}'",
            "param": param,
        },
    )


@dataclass
class Store:
    """Objects by id, the test behaviour of payment methods, and the event feed."""

    public_url: str
    emit: Emit = lambda event: None
    settle_seconds: float = 2.0
    api_version: str = "2025-03-31.basil"
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → Stripe's stub
    behaviours: dict[str, TestMethod] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    request: dict[str, Any] = field(default_factory=dict)  # id and key of the request at work
    timers: list[threading.Timer] = field(default_factory=list)
    return_urls: dict[str, str] = field(default_factory=dict)  # intent id → after its challenge
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)  # each object as last sent
    attempts: dict[str, int] = field(default_factory=dict)  # SetupIntent → wrong verifications
    watchers: list[Watcher] = field(default_factory=list)
    side: dict[str, dict[str, Any]] = field(default_factory=dict)  # ours, never sent: by id
    clock: str | None = None  # the test clock whose customer's work runs
    events: list[dict[str, Any]] = field(default_factory=list)  # every event made (/v1/events)
    rate_limited: int = 0  # the next this many list requests answer 429 (lists.py)
    accounts: dict[str, Store] = field(default_factory=dict)  # Connect accounts' own state
    prepare: Callable[[Store], None] = lambda store: None  # sets up a new account's store

    @staticmethod
    def new_id(prefix: str) -> str:
        return f"{prefix}_{Store.secret(24)}"

    @staticmethod
    def secret(length: int) -> str:
        return "".join(secrets.choice(ALPHABET) for _ in range(length))

    def of(self, account: str) -> Store:
        """The state of Connect `account` ('' for the platform), made when first asked for."""
        if not account:
            return self
        with self.lock:
            found = self.accounts.get(account)
            if found is None:
                found = Store(
                    self.public_url,
                    emit=self.emit,
                    settle_seconds=self.settle_seconds,
                    api_version=self.api_version,
                    lock=self.lock,
                )
                self.accounts[account] = found
                self.prepare(found)
            return found

    def holding(self, object_id: str) -> Store:
        """The store (the platform's or an account's) that holds `object_id`; the platform's
        if none does."""
        for store in (self, *self.accounts.values()):
            if object_id in store.objects:
                return store
        return self

    def now(self) -> int:
        clock = self.objects.get(self.clock or "")
        return int(clock["frozen_time"]) if clock is not None else int(time.time())

    def get(self, object_id: Any, kind: str, param: str = "id") -> dict[str, Any]:
        found = self.objects.get(object_id) if isinstance(object_id, str) else None
        if found is None or found.get("object") != kind:
            raise missing(kind, str(object_id), param)
        return found

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects[obj["id"]] = obj
        return obj

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects.values() if o.get("object") == kind]

    def event(
        self,
        event_type: str,
        obj: dict[str, Any],
        previous: dict[str, Any] | None = None,
    ) -> None:
        """Send `event_type` for the object as it is now (copied: later changes are not in it).

        Every event of an object already sent carries `previous_attributes`: the top-level
        fields that changed since, with their values then. Stripe's events within one second
        are ordered by them downstream (its `created` has one-second resolution).
        """
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        before = self.sent.get(obj["id"])
        if previous is None and before is not None:
            changed = sorted(k for k in {*before, *obj} if before.get(k) != obj.get(k))
            previous = {k: before.get(k) for k in changed} or None
        self.sent[obj["id"]] = copy.deepcopy(obj)
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        event: dict[str, Any] = {
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {
                "id": self.request.get("id"),
                "idempotency_key": self.request.get("idempotency_key"),
            },
            "type": event_type,
        }
        if self.request.get("account"):
            event["account"] = self.request["account"]
        self.events.append(event)
        self.emit(event)
        for watch in list(self.watchers):
            watch(event_type, obj)

    def later(self, action: Callable[[], None]) -> None:
        """Run `action` under the lock after the settle delay (bank debits settling)."""

        clock = self.clock

        def run() -> None:
            with self.lock:
                self.request, self.clock = {}, clock
                try:
                    action()
                finally:
                    self.clock = None

        timer = threading.Timer(self.settle_seconds, run)
        timer.daemon = True
        self.timers.append(timer)
        timer.start()

    def behaviour(self, method_id: str) -> TestMethod:
        return self.behaviours.get(method_id) or TEST_METHODS["pm_card_visa"]

    def stop(self) -> None:
        for timer in self.timers:
            timer.cancel()
        for account in self.accounts.values():
            account.stop()
