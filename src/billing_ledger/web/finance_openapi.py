"""The read API's part of the OpenAPI document, from the same table as its routes
(`finance_listings.LISTINGS`); answer schemas generated from the pydantic models."""

from __future__ import annotations

from typing import Any

from billing_ledger.web.finance_listings import LISTINGS, Listing
from billing_ledger.web.finance_reads import LIST_MODELS
from billing_ledger.web.listing import DEFAULT_LIMIT, MAX_LIMIT

__all__ = ["finance_paths"]

REF = "#/components/schemas/{model}"
ANSWERS = {
    400: "A bad query parameter or cursor: `error` names it and says what is expected",
    401: "No bearer token, or not a valid one",
    403: "The token lacks the read scope",
    404: "No such object",
    503: "Reads cannot run as billing_reader on this database: `error` says what to grant",
}
PAGING = [
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"Rows per page (default {DEFAULT_LIMIT})",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    },
    {
        "name": "cursor",
        "in": "query",
        "required": False,
        "description": "The previous page's next_cursor, as it was given",
        "schema": {"type": "string"},
    },
]


def finance_paths(prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, component schemas) of every list and single-object GET."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for listing in LISTINGS:
        page = LIST_MODELS[listing.name]
        schema = page.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[page.__name__] = schema
        paths.setdefault(prefix + listing.path, {})["get"] = _list(listing, page.__name__)
        if listing.single is not None:
            path = f"{prefix}{listing.path}/{{{listing.single.param}}}"
            paths.setdefault(path, {})["get"] = _single(listing)
    return paths, schemas


def _list(listing: Listing, page: str) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = []
    if listing.scope is not None:
        parameters.append(_path_parameter(listing.scope[0], listing.scope[1]))
    parameters += [
        {
            "name": f.name,
            "in": "query",
            "required": False,
            "description": f.description,
            "schema": f.schema,
        }
        for f in listing.filters
    ]
    codes = (400, 401, 403, *((404,) if listing.scope else ()), 503)
    return _operation(f"{listing.name}.list", listing.summary, parameters + PAGING, page, codes)


def _single(listing: Listing) -> dict[str, Any]:
    assert listing.single is not None
    parameters = [
        _path_parameter(listing.single.param, listing.single.pattern),
        {
            "name": "livemode",
            "in": "query",
            "required": False,
            "description": "Only this mode (without it, live mode's object before test mode's)",
            "schema": {"type": "boolean"},
        },
        {
            "name": "Stripe-Account",
            "in": "header",
            "required": False,
            "description": "The Connect account the object belongs to (the platform's without)",
            "schema": {"type": "string"},
        },
    ]
    summary = f"One of {listing.path.strip('/')} by its Stripe id"
    return _operation(
        f"{listing.name}.read",
        summary,
        parameters,
        listing.model.__name__,
        (400, 401, 403, 404, 503),
    )


def _path_parameter(name: str, pattern: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": pattern},
    }


def _operation(
    operation: str,
    summary: str,
    parameters: list[dict[str, Any]],
    model: str,
    codes: tuple[int, ...],
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": {"$ref": REF.format(model=model)}}},
        }
    }
    for code in codes:
        responses[str(code)] = {
            "description": ANSWERS[code],
            "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
        }
    return {
        "operationId": operation,
        "summary": summary,
        "security": [{"bearer": ["read"]}],
        "parameters": parameters,
        "responses": responses,
    }
