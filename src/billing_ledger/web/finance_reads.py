"""The read API's lists and single objects: parameters → one keyset query → a page of models.

Every query runs as `billing_reader`, the finance role (`SET LOCAL ROLE` inside a read-only,
repeatable-read transaction), so a read can see the `billing` tables and nothing else — not
the tokens or command record in `ops`, the log or the keys — whatever its SQL. The application
role is a member of `billing_reader` for that (`infra/roles.py`); a server where it is not
answers 503 with the grant to run.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from billing_ledger.errors import BillingLedgerError
from billing_ledger.infra.roles import READER_ROLE
from billing_ledger.web.finance_listings import LISTINGS, Listing
from billing_ledger.web.finance_models import list_model
from billing_ledger.web.listing import (
    DEFAULT_LIMIT,
    BadRequest,
    decode_cursor,
    encode_cursor,
    parse_account,
    parse_limit,
    parse_livemode,
)

__all__ = ["FinanceReads", "Query", "ReadsUnavailable", "finance_routes", "parse_query"]

Guard = Callable[[Request, str], Awaitable[Response | None]]
LIST_MODELS: dict[str, type[BaseModel]] = {item.name: list_model(item.model) for item in LISTINGS}
AS_READER = (
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
    f"SET LOCAL ROLE {READER_ROLE}; SET LOCAL TimeZone TO 'UTC'"
)
NOT_A_READER = (
    f"reads run as the {READER_ROLE} role, which this database role may not use: "
    f"GRANT {READER_ROLE} TO the role of DATABASE_URL (README, Database roles)"
)


class ReadsUnavailable(BillingLedgerError):
    """Reads cannot run as the reader role here (the message says what to grant)."""


@dataclass(frozen=True)
class Query:
    """One page of a list: its conditions with their parameters, after which key, how many."""

    listing: Listing
    conditions: tuple[str, ...]
    params: tuple[Any, ...]
    after: tuple[Any, ...] | None
    limit: int


def parse_query(
    listing: Listing, given: Sequence[tuple[str, str]], scope_value: str | None = None
) -> Query:
    """The page `given` (the query string's pairs) asks for; `BadRequest` for any bad one."""
    filters = {f.name: f for f in listing.filters}
    known = {*filters, "limit", "cursor"}
    seen: dict[str, str] = {}
    for name, value in given:
        if name not in known:
            raise BadRequest(
                f"unknown parameter {name!r}: {listing.path} takes {', '.join(sorted(known))}"
            )
        if name in seen:
            raise BadRequest(f"{name}: give it once")
        seen[name] = value
    conditions: list[str] = []
    params: list[Any] = []
    if listing.scope is not None:
        conditions.append(listing.scope[2])
        params.append(scope_value)
    parsed: dict[str, Any] = {}
    for name, value in seen.items():
        if name in filters:
            parsed[name] = filters[name].parse(value)
            conditions.append(filters[name].clause)
            params.append(list(parsed[name]) if isinstance(parsed[name], tuple) else parsed[name])
    _check_range(parsed, "since", "until", lambda a, b: a < b)
    _check_range(parsed, "from", "to", lambda a, b: a <= b)
    after = None
    if "cursor" in seen:
        after = decode_cursor(listing.name, seen["cursor"], listing.keys)
    limit = parse_limit(seen["limit"]) if "limit" in seen else DEFAULT_LIMIT
    return Query(listing, tuple(conditions), tuple(params), after, limit)


def _check_range(parsed: dict[str, Any], low: str, high: str, ordered: Any) -> None:
    if low in parsed and high in parsed and not ordered(parsed[low], parsed[high]):
        raise BadRequest(f"{low} and {high}: {low} must come before {high}")


def page_sql(listing: Listing, conditions: Sequence[str], after: bool) -> str:
    keys = ", ".join(key.column for key in listing.keys)
    marks = ", ".join("%s" for _ in listing.keys)
    named = ", ".join(f"{key.column} AS _k{i}" for i, key in enumerate(listing.keys))
    where = [*conditions, *([f"({keys}) > ({marks})"] if after else [])]
    text = f"SELECT {listing.columns}, {named} FROM {listing.source}"
    if where:
        text += " WHERE " + " AND ".join(f"({condition})" for condition in where)
    if listing.group_by:
        text += f" GROUP BY {listing.group_by}"
    return text + f" ORDER BY {keys} LIMIT %s"


class FinanceReads:
    """Pages and single objects of the `billing` tables, read as `billing_reader`."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def page(self, query: Query) -> bytes:
        listing = query.listing
        text = page_sql(listing, query.conditions, query.after is not None)
        params = (*query.params, *(query.after or ()), query.limit + 1)
        rows = self._rows(listing, text, params)
        shown = rows[: query.limit]
        more = len(rows) > query.limit
        last = shown[-1]["_keys"] if more else None
        page = {
            "data": [row["fields"] for row in shown],
            "has_more": more,
            "next_cursor": encode_cursor(listing.name, last) if last else None,
        }
        return LIST_MODELS[listing.name].model_validate(page).model_dump_json().encode()

    def one(
        self, listing: Listing, stripe_id: str, account: str, livemode: bool | None
    ) -> bytes | None:
        """The object `stripe_id` of `account`: in `livemode`, or live before test mode."""
        assert listing.single is not None
        conditions = [listing.single.clause, "t.account_id = %s"]
        params: list[Any] = [stripe_id, account]
        if livemode is not None:
            conditions.append("t.livemode = %s")
            params.append(livemode)
        rows = self._rows(listing, page_sql(listing, conditions, False), (*params, 2))
        if not rows:
            return None
        chosen = max(rows, key=lambda row: bool(row["fields"]["livemode"]))
        return listing.model.model_validate(chosen["fields"]).model_dump_json().encode()

    def _rows(self, listing: Listing, text: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self._pool.connection() as conn, conn.transaction():
            try:
                conn.execute(AS_READER)
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedObject):
                raise ReadsUnavailable(NOT_A_READER) from None
            with conn.cursor(row_factory=dict_row) as cursor:
                found = cursor.execute(text.encode(), params).fetchall()
                rows = [_split(row, len(listing.keys)) for row in found]
                if listing.children is not None and rows:
                    parents = [row["_keys"][-1] for row in rows]
                    children = cursor.execute(listing.children.query, (parents,)).fetchall()
                    by_parent: dict[Any, list[dict[str, Any]]] = {p: [] for p in parents}
                    for child in children:
                        by_parent[child.pop("_parent")].append(child)
                    for row in rows:
                        row["fields"][listing.children.field] = by_parent[row["_keys"][-1]]
        return rows


def _split(row: dict[str, Any], keys: int) -> dict[str, Any]:
    values = tuple(row.pop(f"_k{i}") for i in range(keys))
    return {"fields": row, "_keys": values}


def finance_routes(prefix: str, guard: Guard, reads: FinanceReads) -> list[Route]:
    """A GET route per list (and per single object), behind `guard` with the `read` scope."""
    routes: list[Route] = []
    for listing in LISTINGS:
        routes.append(Route(prefix + listing.path, _list(listing, guard, reads), methods=["GET"]))
        if listing.single is not None:
            path = f"{prefix}{listing.path}/{{{listing.single.param}}}"
            routes.append(Route(path, _single(listing, guard, reads), methods=["GET"]))
    return routes


def refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


def _list(listing: Listing, guard: Guard, reads: FinanceReads) -> Callable[..., Any]:
    async def handle(request: Request) -> Response:
        refused = await guard(request, "read")
        if refused is not None:
            return refused
        scope_value = None
        if listing.scope is not None:
            scope_value = request.path_params[listing.scope[0]]
            if not re.match(listing.scope[1], scope_value):
                return refuse(404, "not found")
        try:
            query = parse_query(listing, request.query_params.multi_items(), scope_value)
            body = await run_in_threadpool(reads.page, query)
        except BadRequest as e:
            return refuse(400, str(e))
        except ReadsUnavailable as e:
            return refuse(503, str(e))
        return Response(body, media_type="application/json")

    return handle


def _single(listing: Listing, guard: Guard, reads: FinanceReads) -> Callable[..., Any]:
    assert listing.single is not None
    single = listing.single

    async def handle(request: Request) -> Response:
        refused = await guard(request, "read")
        if refused is not None:
            return refused
        stripe_id = request.path_params[single.param]
        if not re.match(single.pattern, stripe_id):
            return refuse(404, "not found")
        try:
            account = parse_account(request.headers.get("stripe-account", ""))
            given = dict(request.query_params.multi_items())
            unknown = sorted(set(given) - {"livemode"})
            if unknown or len(request.query_params.multi_items()) > len(given):
                raise BadRequest(f"{listing.path}/{{{single.param}}} takes only livemode")
            livemode = parse_livemode(given["livemode"]) if "livemode" in given else None
            body = await run_in_threadpool(reads.one, listing, stripe_id, account, livemode)
        except BadRequest as e:
            return refuse(400, str(e))
        except ReadsUnavailable as e:
            return refuse(503, str(e))
        if body is None:
            return refuse(404, "not found (a new object appears once Stripe's webhook has arrived)")
        return Response(body, media_type="application/json")

    return handle
