"""The page a customer sees instead of the one asked for, by kind of refusal: a clear
sentence and what to do, the right status code, nothing about anyone else."""

from __future__ import annotations

from typing import Any

REFUSALS: dict[str, tuple[int, str, str]] = {
    "expired": (
        410,
        "This link has expired",
        "For your security, links to this page stop working after a while. "
        "Ask the shop for a new link.",
    ),
    "invalid": (
        403,
        "This link is not valid",
        "The link may have been copied incompletely or changed. Open it again from the "
        "message you received, or ask the shop for a new one.",
    ),
    "no_session": (
        401,
        "Open this page from your link",
        "This page is reached through the personal link the shop sent you.",
    ),
    "portal_only": (
        403,
        "This link opens one payment only",
        "Ask the shop for a link to manage your payment methods.",
    ),
    "not_found": (404, "Not found", "There is nothing here for this link."),
    "csrf": (
        403,
        "This form has expired",
        "Go back, reload the page and try again.",
    ),
    "unavailable": (
        503,
        "Payments are unavailable right now",
        "Nothing was charged. Please try again in a few minutes.",
    ),
    "bad_request": (400, "Something is wrong with this request", "Go back and try again."),
    "error": (
        500,
        "Something went wrong on our side",
        "Nothing was charged by this error. Please try again in a few minutes.",
    ),
}


def refusal_page(kind: str) -> dict[str, Any]:
    status, heading, line = REFUSALS.get(kind, REFUSALS["error"])
    return {
        "status": status,
        "title": heading,
        "heading": heading,
        "lines": [line],
        "tone": "error",
        "page": f"refused-{kind}",
    }
