"""The stand-in's list endpoints and its event feed, in Stripe's list shape.

A list answers `{"object": "list", "data": [...], "has_more": …, "url": …}`, newest first
(`created` descending; within one second, the later made first), `limit` 1–100 (default 10),
paged with `starting_after` / `ending_before` (an object id of the previous page), filtered
by `created[gte|gt|lte|lt]` and the filters Stripe offers for that list, and with
`expand[]=data.<field>` replacing the ids in that field by the objects. Subscriptions leave
out the canceled unless `status=all` (or `status=canceled`), as Stripe does.

Objects in a list embed their own sub-lists (a subscription's `items`, an invoice's `lines`)
as Stripe does: the first ten, `has_more` telling the caller to page the sub-list's own
endpoint for the rest.

`/v1/events` lists every event the stand-in made (also those whose webhook a test withheld),
each as it was sent: in the API version of its creation. `Store.rate_limited` makes the next
that many list requests answer 429, as Stripe does to a caller over its rate limit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from billing_ledger.stripe_api.fake.formdata import integer
from billing_ledger.stripe_api.fake.store import Store, StripeFailure, invalid, missing

MAX_LIMIT = 100
DEFAULT_LIMIT = 10
EMBEDDED = 10  # objects of a sub-list embedded in its parent
SUBLISTS = {"subscription": ("items", "subscription_items"), "invoice": ("lines", "lines")}

Lister = Callable[[Store, str, dict[str, Any]], dict[str, Any]]


def lister(kind: str, url: str, filters: Iterable[str] = ()) -> Lister:
    """The list endpoint of `kind` objects (at `url`), filtered by equality on `filters`."""
    allowed = tuple(filters)

    def answer(store: Store, _: str, params: dict[str, Any]) -> dict[str, Any]:
        wanted = {name: params[name] for name in allowed if params.get(name) not in (None, "")}
        found = [o for o in store.all(kind) if all(o.get(k) == v for k, v in wanted.items())]
        if kind == "subscription":
            found = _by_status(found, params.get("status"))
        return page(store, found, url, params)

    return answer


def owned_lister(kind: str, owner_field: str, url: str) -> Lister:
    """The list of `kind` objects whose `owner_field` is the path's id (a customer's tax ids
    and payment methods, a subscription's items by `?subscription=`)."""

    def answer(store: Store, owner: str, params: dict[str, Any]) -> dict[str, Any]:
        owner = owner or str(params.get(owner_field) or "")
        if not owner:
            raise invalid(f"Missing required param: {owner_field}.", owner_field)
        found = [o for o in store.all(kind) if o.get(owner_field) == owner]
        return page(store, found, url.format(owner=owner), params)

    return answer


def invoice_lines(store: Store, invoice_id: str, params: dict[str, Any]) -> dict[str, Any]:
    invoice = store.get(invoice_id, "invoice")
    lines = list(invoice["lines"]["data"])  # in the invoice's order, as Stripe pages them
    return page(store, lines, f"/v1/invoices/{invoice_id}/lines", params, keep_order=True)


def subscription_items(store: Store, _: str, params: dict[str, Any]) -> dict[str, Any]:
    subscription = store.get(params.get("subscription"), "subscription", "subscription")
    items = list(subscription["items"]["data"])
    url = f"/v1/subscription_items?subscription={subscription['id']}"
    return page(store, items, url, params, keep_order=True)


def events(store: Store, _: str, params: dict[str, Any]) -> dict[str, Any]:
    found = list(store.events)
    wanted_type = params.get("type")
    if wanted_type:
        found = [e for e in found if _type_matches(e["type"], str(wanted_type))]
    types = params.get("types")
    if types:
        found = [e for e in found if e["type"] in set(types)]
    return page(store, found, "/v1/events", params, embed=False)


def page(
    store: Store,
    objects: list[dict[str, Any]],
    url: str,
    params: Mapping[str, Any],
    *,
    keep_order: bool = False,
    embed: bool = True,
) -> dict[str, Any]:
    """One page of `objects` (made oldest first) as Stripe answers a list request."""
    if store.rate_limited > 0:
        store.rate_limited -= 1
        raise StripeFailure(
            429,
            {
                "type": "invalid_request_error",
                "code": "rate_limit",
                "message": "Too many requests hit the API too quickly.",
            },
        )
    limit = _limit(params.get("limit"))
    ordered = objects if keep_order else _newest_first(objects)
    ordered = [o for o in ordered if _created_matches(o, params.get("created"))]
    after, before = params.get("starting_after"), params.get("ending_before")
    ids = [o["id"] for o in ordered]
    if after:
        if after not in ids:
            raise missing("object", str(after), "starting_after")
        ordered = ordered[ids.index(after) + 1 :]
        chosen = ordered[:limit]
    elif before:
        if before not in ids:
            raise missing("object", str(before), "ending_before")
        ordered = ordered[: ids.index(before)]
        chosen = ordered[-limit:]
    else:
        chosen = ordered[:limit]
    shown = [_rendered(o) if embed else copy.deepcopy(o) for o in chosen]
    for path in params.get("expand") or []:
        _expand(store, shown, str(path))
    return {
        "object": "list",
        "data": shown,
        "has_more": len(ordered) > len(chosen),
        "url": url,
    }


def _expand(store: Store, shown: list[dict[str, Any]], path: str) -> None:
    """`expand[]=data.<field>`: the ids in that field of each object replaced by the objects."""
    if not path.startswith("data.") or "." in path[5:]:
        raise invalid(f"This property cannot be expanded ({path}).", "expand")
    name = path[5:]
    for obj in shown:
        value = obj.get(name)
        if isinstance(value, list):
            obj[name] = [_found(store, v) for v in value]
        elif isinstance(value, str):
            obj[name] = _found(store, value)


def _found(store: Store, value: Any) -> Any:
    return copy.deepcopy(store.objects.get(value, value)) if isinstance(value, str) else value


def _newest_first(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    made = list(enumerate(objects))
    made.sort(key=lambda pair: (pair[1].get("created") or 0, pair[0]), reverse=True)
    return [o for _, o in made]


def _rendered(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` as a list shows it: its sub-list cut to the first EMBEDDED, with `has_more`."""
    shown = copy.deepcopy(obj)
    sub = SUBLISTS.get(str(obj.get("object")))
    if sub is not None and isinstance(shown.get(sub[0]), dict):
        field, path = sub
        data = shown[field].get("data") or []
        shown[field] = {
            "object": "list",
            "data": data[:EMBEDDED],
            "has_more": len(data) > EMBEDDED,
            "total_count": len(data),
            "url": f"/v1/invoices/{obj['id']}/lines"
            if path == "lines"
            else f"/v1/subscription_items?subscription={obj['id']}",
        }
    return shown


def _by_status(found: list[dict[str, Any]], status: Any) -> list[dict[str, Any]]:
    if status == "all":
        return found
    if status:
        return [o for o in found if o.get("status") == status]
    return [o for o in found if o.get("status") not in ("canceled", "incomplete_expired")]


def _limit(given: Any) -> int:
    if given in (None, ""):
        return DEFAULT_LIMIT
    limit = integer(given, "limit")
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid(
            f"Invalid limit: must be between 1 and {MAX_LIMIT}.", "limit", "parameter_invalid"
        )
    return limit


def _created_matches(obj: Mapping[str, Any], bounds: Any) -> bool:
    if bounds in (None, ""):
        return True
    created = int(obj.get("created") or 0)
    if not isinstance(bounds, Mapping):
        return created == integer(bounds, "created")
    checks = {
        "gte": lambda at: created >= at,
        "gt": lambda at: created > at,
        "lte": lambda at: created <= at,
        "lt": lambda at: created < at,
    }
    for name, value in bounds.items():
        if name not in checks:
            raise invalid(f"Invalid created[{name}]", f"created[{name}]")
        if not checks[name](integer(value, f"created[{name}]")):
            return False
    return True


def _type_matches(event_type: str, wanted: str) -> bool:
    if wanted.endswith(".*"):
        return event_type.startswith(wanted[:-1])
    return event_type == wanted
