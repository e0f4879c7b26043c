"""Who may open the finance dashboard, and which account and mode a session shows.

A dashboard session is the customer pages' signed session (`pages/links.py`,
`pages/sessions.py`) with a scope of its own, in a cookie of its own (`bl_dashboard`):

- `dashboard`: opened by a signed link (`billing-ledger dashboard-link`), pinned to the
  link's Connect account ('' for the platform) and mode; it shows nothing else.
- `dashboard:all`: opened by trading a `read` API token at `/dashboard/login`; the token may
  read every account and mode, so the session may choose among them (`?account=&livemode=`).
- `dashboard-login`: the short-lived cookie of the login form itself, whose nonce gives the
  form its CSRF token (there is no session yet to carry one).

No customer link or session opens the dashboard and no dashboard link or session opens a
customer's page: each side's `Sessions.accepts` refuses the other's scopes, whatever cookie
they arrive in. The customer field of a dashboard link is empty.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing_ledger.web.pages.links import SESSION_SECONDS, Link, LinkSigner

COOKIE = "bl_dashboard"
LOGIN_COOKIE = "bl_dashboard_login"
PINNED = "dashboard"
ALL = "dashboard:all"
LOGIN = "dashboard-login"
LOGIN_SECONDS = 15 * 60
"""How long a login form may stay open before its CSRF token expires."""
PATH = "/dashboard"


def is_dashboard(link: Link) -> bool:
    return link.scope in (PINNED, ALL) and link.customer == ""


def is_login_form(link: Link) -> bool:
    return link.scope == LOGIN and link.customer == ""


@dataclass(frozen=True)
class View:
    """What one dashboard request shows: an account ('' for the platform) and a mode."""

    account: str
    livemode: bool


def view_of(session: Link, account: str | None, livemode: bool | None) -> View | None:
    """The view a session may show for the `account`/`livemode` asked (None: its default);
    None when a pinned session is asked for another account or mode."""
    if session.scope == ALL:
        return View(
            session.account if account is None else account,
            session.livemode if livemode is None else livemode,
        )
    if account not in (None, session.account) or livemode not in (None, session.livemode):
        return None
    return View(session.account, session.livemode)


def dashboard_link(signer: LinkSigner, account: str, livemode: bool, expires: int) -> str:
    """The token of a dashboard link pinned to `account` and mode, valid until `expires`."""
    return signer.sign(Link("", account, livemode, expires, PINNED))


def token_session(now: float) -> Link:
    """What a `read` token is traded for: every account, the platform's test mode shown
    first, for `SESSION_SECONDS` (as a customer's session)."""
    return Link("", "", False, int(now) + SESSION_SECONDS, ALL)


def login_form(now: float) -> Link:
    """The login form's own short link (its session's nonce makes the form's CSRF token)."""
    return Link("", "", False, int(now) + LOGIN_SECONDS, LOGIN)


__all__ = [
    "ALL",
    "COOKIE",
    "LOGIN",
    "LOGIN_COOKIE",
    "PINNED",
    "View",
    "dashboard_link",
    "is_dashboard",
    "is_login_form",
    "login_form",
    "token_session",
    "view_of",
]
