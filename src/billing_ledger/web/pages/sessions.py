"""From a signed link to a session cookie, and the checks every request of a page passes.

A GET with `?link=` verifies it, sets the session cookie (HttpOnly, SameSite=Lax, Secure on
https) and redirects to the same path without the query, so the token leaves the address bar
and the history (and Stripe's `payment_intent_client_secret`, which it appends to return
URLs, with it). A pay link for the customer of an open portal session keeps that session. A
POST needs the session and its CSRF token (form field `csrf` or header `X-CSRF-Token`), and
an `Origin`, when the browser sends one, of this server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import RedirectResponse

from billing_ledger.web.pages.links import PORTAL, Link, LinkRefused, LinkSigner
from billing_ledger.web.pages.security import origin_of

COOKIE = "bl_session"
MAX_FORM_BYTES = 8 * 1024


class PageRefused(Exception):
    """A request a page does not serve: `kind` picks the page the customer sees."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class Sessions:
    signer: LinkSigner
    public_base_url: str
    clock: Callable[[], float]
    cookie: str = COOKIE
    """The cookie's name: the customer pages' `bl_session`, the dashboard's its own."""
    accepts: Callable[[Link], bool] = lambda link: (
        link.scope == PORTAL or link.scope.startswith("pay:")
    )
    """Which links open a session here: a link of another kind (a finance dashboard's at a
    customer page, a customer's at the dashboard) is refused as invalid, and a session
    cookie of another kind is never taken for this one."""

    @property
    def https(self) -> bool:
        return self.public_base_url.startswith("https://")

    def open(self, request: Request, token: str) -> RedirectResponse:
        """The redirect that turns the link `token` into a session (LinkRefused if invalid)."""
        now = self.clock()
        link = self.signer.verify(token, now)
        if not self.accepts(link):
            raise LinkRefused("invalid")
        current = self._current(request)
        response = RedirectResponse(request.url.path, 303)
        if current is not None and current.scope == PORTAL and _same_customer(current, link):
            return response
        session, cookie = self.signer.session(link, now)
        response.set_cookie(
            self.cookie,
            cookie,
            max_age=max(1, session.expires - int(now)),
            path="/",
            secure=self.https,
            httponly=True,
            samesite="lax",
        )
        return response

    def session(self, request: Request) -> Link:
        """The request's session, or PageRefused (`no_session`, `expired`, `invalid`)."""
        token = request.cookies.get(self.cookie)
        if not token:
            raise PageRefused("no_session")
        try:
            session = self.signer.verify(token, self.clock())
        except LinkRefused as e:
            raise PageRefused(e.reason) from None
        if not session.nonce or not self.accepts(session):
            raise PageRefused("invalid")
        return session

    def checked_post(self, request: Request, form: Mapping[str, str] | None) -> Link:
        """The session of a POST whose CSRF token and origin are right, else PageRefused."""
        session = self.session(request)
        given = request.headers.get("x-csrf-token")
        if given is None and form is not None:
            given = form.get("csrf")
        if not self.signer.csrf_matches(session, given):
            raise PageRefused("csrf")
        origin = request.headers.get("origin")
        allowed = {origin_of(self.public_base_url), origin_of(str(request.base_url))}
        if origin is not None and origin not in allowed:
            raise PageRefused("csrf")
        return session

    def csrf(self, session: Link) -> str:
        return self.signer.csrf_token(session)

    def _current(self, request: Request) -> Link | None:
        try:
            return self.session(request)
        except PageRefused:
            return None


async def read_form(request: Request) -> dict[str, str]:
    """A page's small urlencoded form (its fields are a CSRF token, a key, ids)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise PageRefused("bad_request")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PageRefused("bad_request")
    try:
        return dict(parse_qsl(body.decode("utf-8"), max_num_fields=20))
    except (UnicodeDecodeError, ValueError):
        raise PageRefused("bad_request") from None


def _same_customer(a: Link, b: Link) -> bool:
    return (a.customer, a.account, a.livemode) == (b.customer, b.account, b.livemode)
