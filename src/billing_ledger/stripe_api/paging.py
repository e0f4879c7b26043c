"""Paging Stripe's list endpoints under its rate limits.

Lists are paged as the SDK's auto-pagination pages them (`starting_after` the last id of the
page before, until `has_more` is false), but one page at a time, so that the caller can store
where it is after each page and resume there. Requests are spaced to stay under `per_second`
(Stripe allows 100 read requests a second in live mode and 25 in test mode); a 429 the client's
own bounded backoff did not absorb is waited out longer, up to `RATE_LIMIT_WAITS` times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from billing_ledger.stripe_api.client import StripeApi
from billing_ledger.stripe_api.errors import RateLimited

PAGE_SIZE = 100
DEFAULT_PER_SECOND = 20.0
RATE_LIMIT_WAITS = 6
RATE_LIMIT_WAIT_CAP_SECONDS = 60.0


@dataclass
class Pace:
    """At most `per_second` requests a second, and longer waits after a 429."""

    per_second: float = DEFAULT_PER_SECOND
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _next: float = field(default=0.0, init=False)

    def wait(self) -> None:
        now = self.clock()
        if now < self._next:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + 1.0 / self.per_second

    def rate_limited(self, attempt: int) -> None:
        self.sleep(min(RATE_LIMIT_WAIT_CAP_SECONDS, 2.0 ** (attempt + 1)))


@dataclass(frozen=True)
class Page:
    """One page of a list: its objects, when it was asked for (epoch seconds), and whether
    more follow."""

    objects: list[dict[str, Any]]
    fetched_at: int
    has_more: bool

    @property
    def last_id(self) -> str | None:
        return str(self.objects[-1]["id"]) if self.objects else None


class Lister:
    """Fetches pages of Stripe lists through `stripe` for one Connect `account` ('' for the
    platform). `clock` gives the time a request is made: what its page shows is the state at
    that moment or later, so that moment is the page's `fetched_at` (ordering.py: a webhook
    created after it then wins)."""

    def __init__(
        self,
        stripe: StripeApi,
        account: str = "",
        pace: Pace | None = None,
        clock: Callable[[], float] = time.time,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._stripe, self._account = stripe, account
        self._pace = pace or Pace()
        self._clock = clock
        self._page_size = page_size
        self.requests = 0

    def page(
        self,
        resource: str,
        params: Mapping[str, Any],
        starting_after: str | None = None,
        parent: str | None = None,
    ) -> Page:
        """One page of `resource`'s list (of `parent`'s, for a nested one) after an id."""
        asked = {**params, "limit": self._page_size}
        if starting_after is not None:
            asked["starting_after"] = starting_after
        attempt = 0
        while True:
            self._pace.wait()
            fetched_at = int(self._clock())
            self.requests += 1
            try:
                answer = self._stripe.call(
                    resource, "list", id=parent, params=asked, account=self._account or None
                )
                break
            except RateLimited:
                if attempt >= RATE_LIMIT_WAITS:
                    raise
                self._pace.rate_limited(attempt)
                attempt += 1
        found = answer.object
        return Page(list(found.get("data") or []), fetched_at, bool(found.get("has_more")))

    def pages(
        self,
        resource: str,
        params: Mapping[str, Any],
        starting_after: str | None = None,
        parent: str | None = None,
    ) -> Iterator[Page]:
        """Every page of the list from `starting_after` on."""
        while True:
            page = self.page(resource, params, starting_after, parent)
            yield page
            if not page.has_more or page.last_id is None:
                return
            starting_after = page.last_id

    def all(self, resource: str, params: Mapping[str, Any], parent: str | None = None) -> Page:
        """The whole list as one page (a sub-list: a customer's tax ids, an invoice's lines),
        fetched at its first page's time."""
        pages = list(self.pages(resource, params, parent=parent))
        objects = [obj for page in pages for obj in page.objects]
        return Page(objects, pages[0].fetched_at, False)
