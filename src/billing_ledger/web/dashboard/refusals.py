"""The page finance sees instead of the dashboard, by kind of refusal: what happened, what to
do, the status code; never a figure."""

from __future__ import annotations

from typing import Any

SIGN_IN = (
    "Ask for a new dashboard link (`billing-ledger dashboard-link`), or sign in with a read token."
)
REFUSALS: dict[str, tuple[int, str, str]] = {
    "expired": (410, "This dashboard link has expired", SIGN_IN),
    "invalid": (
        403,
        "This dashboard link is not valid",
        "It may have been copied incompletely or changed, or it is not a dashboard link. "
        + SIGN_IN,
    ),
    "no_session": (401, "Sign in to see the dashboard", SIGN_IN),
    "other_account": (
        403,
        "This link shows another account",
        "A dashboard link shows the one account and mode it was made for. " + SIGN_IN,
    ),
    "csrf": (403, "This form has expired", "Go back, reload the page and try again."),
    "bad_request": (
        400,
        "Something is wrong with this request",
        "The account, mode or currency asked for is not valid. Go back and try again.",
    ),
    "not_found": (404, "Not found", "There is no such dashboard page."),
    "error": (
        500,
        "Something went wrong on our side",
        "The figures could not be read. Please try again in a few minutes.",
    ),
}


def refusal_page(kind: str) -> dict[str, Any]:
    status, heading, line = REFUSALS.get(kind, REFUSALS["error"])
    return {
        "status": status,
        "title": heading,
        "heading": heading,
        "lines": [line],
        "page": f"refused-{kind}",
        "sign_in": kind not in ("error",),
    }
