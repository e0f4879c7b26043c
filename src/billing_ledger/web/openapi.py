"""The OpenAPI 3.1 document of `/api/v1`, built from the endpoint table (`endpoints.py`)."""

from __future__ import annotations

import re
from typing import Any

from billing_ledger import __version__
from billing_ledger.web.endpoints import ENDPOINTS, NoBody
from billing_ledger.web.finance_openapi import finance_paths

REF = "#/components/schemas/{model}"
DESCRIPTIONS = {
    400: "A query parameter that is not one of the values it may take",
    200: "Done (`Idempotent-Replayed: true` when a repeated key answered the recorded outcome)",
    201: "Created",
    202: "Accepted by Stripe, not final yet: `processing`, or `requires_action` with "
    "`client_secret`, `next_action` and `confirmation_url`",
    401: "No bearer token, or not a valid one",
    402: "The payment failed: Stripe's `code`, `decline_code` and message",
    403: "The token lacks this endpoint's scope",
    404: "No such object (here or at Stripe)",
    409: "Stripe is still working on a request with this idempotency key: retry shortly",
    422: "Invalid body, missing Idempotency-Key, a key reused with another body, or "
    "parameters Stripe refused",
    429: "Stripe rate limited us past our retries: retry later with the same key",
    502: "Stripe refused our API key, or answered something we cannot use",
    503: "Stripe is unavailable, or no STRIPE_API_KEY is configured: retry with the same key",
}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "code": {"type": ["string", "null"]},
        "decline_code": {"type": ["string", "null"]},
    },
}


def openapi_document(prefix: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": ERROR}
    paths: dict[str, Any] = {}
    for spec in ENDPOINTS:
        operation: dict[str, Any] = {
            "operationId": spec.operation,
            "summary": spec.summary,
            "security": [{"bearer": [spec.scope]}],
            "parameters": _parameters(spec.path, write=spec.read is None) + _query(spec),
            "responses": {str(code): _response(code) for code in _codes(spec)},
        }
        if spec.read is None and spec.body is not NoBody:
            schema = spec.body.model_json_schema(ref_template=REF)
            schemas.update(schema.pop("$defs", {}))
            schemas[spec.body.__name__] = schema
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": REF.format(model=spec.body.__name__)}}
                },
            }
        paths.setdefault(prefix + spec.path, {})[spec.method.lower()] = operation
    reads, read_schemas = finance_paths(prefix)
    for path, operations in reads.items():
        paths.setdefault(path, {}).update(operations)
    schemas.update(read_schemas)
    paths[f"{prefix}/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "The OpenAPI document"}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "billing-ledger API",
            "version": __version__,
            "description": "Commands through Stripe, exactly once per Idempotency-Key; their "
            "effects reach the ledger through Stripe's signed webhooks. Finance reads the "
            "ledger's tables as lists with cursor pagination (read scope).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _parameters(path: str, *, write: bool) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", path)
    ]
    if write:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "description": "The caller's key: a repeat returns the recorded outcome",
                "schema": {"type": "string", "maxLength": 255},
            }
        )
    parameters.append(
        {
            "name": "Stripe-Account",
            "in": "header",
            "required": False,
            "description": "Act for this Connect account",
            "schema": {"type": "string"},
        }
    )
    return parameters


def _query(spec: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": description,
            "schema": {"type": "string"},
        }
        for name, description in spec.query
    ]


def _codes(spec: Any) -> list[int]:
    refusals = (401, 403, 404) if spec.read else (401, 403, 409, 422, 429, 502, 503)
    return sorted({*spec.answers, *refusals})


def _response(code: int) -> dict[str, Any]:
    response: dict[str, Any] = {"description": DESCRIPTIONS[code]}
    if code >= 400 and code != 402:
        response["content"] = {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}
    return response
