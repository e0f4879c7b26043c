"""Backfill: the objects a Stripe account already holds, appended to the log of record.

Stripe keeps events for 30 days; an account adopting the ledger has years of objects. A
backfill pages the list endpoints (`STEPS`, in order) and appends each object as a listed
snapshot (domain/listing.py) stamped with the time its page was asked for, marked with the
source `listed` (never as if signed). The processor orders it with the webhooks: it wins over
those created before its fetch and loses to those after, so a backfill before, after or
between webhooks gives the same current rows.

Each object comes whole: a customer with its tax ids, payment methods and discount; a
subscription (of every status) with all its items and an invoice with all its lines, paging
the sub-list when the embedded one says `has_more`.

Resumable: the cursor (cursors.py) is stored after each page is durable in the log, so a
crash or Ctrl-C resumes at the next page; a finished backfill starts afresh when run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from billing_ledger.domain.listing import listed_event
from billing_ledger.stripe_api.client import API_VERSION
from billing_ledger.stripe_api.cursors import BackfillKey, Cursor, CursorStore
from billing_ledger.stripe_api.errors import ModeMismatch
from billing_ledger.stripe_api.fetched import Appender
from billing_ledger.stripe_api.paging import Lister, Page


@dataclass(frozen=True)
class Step:
    """One list endpoint a backfill pages."""

    name: str
    resource: str
    params: Mapping[str, Any] = field(default_factory=dict)
    since_applies: bool = True  # coupons are listed whatever their age: discounts name them


STEPS = (
    Step("coupons", "coupons", since_applies=False),
    Step("customers", "customers"),
    # A subscription names its discounts by id; expanded, they are listed as discounts.
    Step("subscriptions", "subscriptions", {"status": "all", "expand": ["data.discounts"]}),
    Step("invoices", "invoices"),
    Step("invoice_payments", "invoice_payments"),
    Step("payment_intents", "payment_intents"),
    Step("charges", "charges"),
    Step("refunds", "refunds"),
    Step("disputes", "disputes"),
)
STEP_NAMES = [step.name for step in STEPS]


@dataclass(frozen=True)
class Snapshot:
    """One object to append, with the time it was fetched."""

    obj: dict[str, Any]
    fetched_at: int


@dataclass
class Status:
    """Where a running backfill is, for its progress line."""

    step: str
    step_number: int
    appended: int
    resumed: bool
    since: int
    oldest_customer: int | None = None
    last_created: int | None = None


Report = Callable[[Status], None]


class Backfill:
    """Pages `STEPS` through `lister` into `appender`, for the account and mode of `key`."""

    def __init__(
        self,
        lister: Lister,
        appender: Appender,
        cursors: CursorStore,
        key: BackfillKey,
        report: Report = lambda status: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lister, self._appender, self._cursors = lister, appender, cursors
        self._key, self._report, self._clock = key, report, clock

    def run(self) -> Status:
        """Page every list from the cursor on; returns the final status (`appended`)."""
        cursor = self._cursors.load(self._key)
        resumed = cursor is not None and not cursor.finished
        if cursor is None or cursor.finished:
            cursor = Cursor(STEPS[0].name, None, 0, datetime.fromtimestamp(self._clock(), UTC))
            self._cursors.save(self._key, cursor)
        status = Status(cursor.step, 0, cursor.appended, resumed, self._key.since)
        for step in STEPS[STEP_NAMES.index(cursor.step) :]:
            status.step, status.step_number = step.name, STEP_NAMES.index(step.name) + 1
            status.last_created = None
            after = cursor.starting_after if cursor.step == step.name else None
            for page in self._lister.pages(step.resource, self._params(step), after):
                snapshots = [s for obj in page.objects for s in self._whole(step, obj, page)]
                self._appender.append_all([self._document(s) for s in snapshots])
                status.appended += len(snapshots)
                cursor = replace(
                    cursor,
                    step=step.name,
                    starting_after=page.last_id or after,
                    appended=status.appended,
                )
                self._cursors.save(self._key, cursor)
                if page.objects:
                    status.last_created = int(page.objects[-1].get("created") or 0)
                    if step.name == "customers":
                        status.oldest_customer = status.last_created
                self._report(replace(status))
            following = STEP_NAMES.index(step.name) + 1
            if following < len(STEPS):
                cursor = replace(cursor, step=STEPS[following].name, starting_after=None)
                self._cursors.save(self._key, cursor)
        self._cursors.save(self._key, replace(cursor, finished=True))
        return status

    def _params(self, step: Step) -> dict[str, Any]:
        params = dict(step.params)
        if step.since_applies and self._key.since:
            params["created"] = {"gte": self._key.since}
        return params

    def _whole(self, step: Step, obj: dict[str, Any], page: Page) -> Iterator[Snapshot]:
        """`obj` whole, and the objects listed with it (a customer's tax ids, methods,
        discount), each with the time it was fetched."""
        self._check_mode(obj)
        if step.name == "subscriptions":
            obj = self._completed(obj, "items", "subscription_items", {"subscription": obj["id"]})
            obj, discounts = _discounts_apart(obj)
            for expanded in discounts:
                yield Snapshot(expanded, page.fetched_at)
        elif step.name == "invoices":
            obj = self._completed(obj, "lines", "invoices.line_items", {}, parent=obj["id"])
        yield Snapshot(obj, page.fetched_at)
        if step.name != "customers":
            return
        discount = obj.get("discount")
        if isinstance(discount, dict):
            yield Snapshot(discount, page.fetched_at)
        for resource in ("customers.tax_ids", "customers.payment_methods"):
            owned = self._lister.all(resource, {}, parent=obj["id"])
            for found in owned.objects:
                self._check_mode(found)
                yield Snapshot(found, owned.fetched_at)

    def _completed(
        self,
        obj: dict[str, Any],
        field_name: str,
        resource: str,
        params: Mapping[str, Any],
        parent: str | None = None,
    ) -> dict[str, Any]:
        """`obj` with all of its sub-list `field_name`, paged when the embedded one is cut."""
        embedded = obj.get(field_name)
        if not isinstance(embedded, dict) or not embedded.get("has_more"):
            return obj
        data = list(embedded.get("data") or [])
        last = data[-1]["id"] if data else None
        for page in self._lister.pages(resource, params, last, parent=parent):
            data.extend(page.objects)
        return {**obj, field_name: {**embedded, "data": data, "has_more": False}}

    def _document(self, snapshot: Snapshot) -> dict[str, Any]:
        return listed_event(
            snapshot.obj,
            fetched_at=snapshot.fetched_at,
            account=self._key.account,
            livemode=self._key.livemode,
            api_version=API_VERSION,
        )

    def _check_mode(self, obj: Mapping[str, Any]) -> None:
        livemode = obj.get("livemode")
        if isinstance(livemode, bool) and livemode != self._key.livemode:
            raise ModeMismatch(
                f"Stripe listed a {'live' if livemode else 'test'}-mode {obj.get('object')} "
                f"to a {'live' if self._key.livemode else 'test'}-mode key"
            )


def _discounts_apart(obj: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A subscription with its discounts named by id, as unexpanded, and the discounts."""
    discounts = obj.get("discounts")
    if not isinstance(discounts, list):
        return obj, []
    expanded = [d for d in discounts if isinstance(d, dict)]
    named = [d["id"] if isinstance(d, dict) else d for d in discounts]
    return {**obj, "discounts": named}, expanded
