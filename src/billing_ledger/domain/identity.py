"""Identity is `(account, livemode, stripe id)`; ids derived from it are stable across rebuilds."""

from __future__ import annotations

from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5


# Each event names the same few objects (its customer, subscription, invoice) again and again:
# remembering recent ids saves hashing them anew each time; bounded, so memory stays flat.
@lru_cache(maxsize=65_536, typed=True)
def stripe_uuid(account_id: str, livemode: bool, stripe_id: str) -> UUID:
    """uuid5 of `stripe:{account_id}:{livemode}:{stripe_id}` (livemode as `true`/`false`).

    Used both as the aggregate id and as the row id in the read schema, so references between
    rows (a subscription's `customer_id`) resolve whatever order the objects arrived in.
    """
    return uuid5(NAMESPACE_URL, f"stripe:{account_id}:{str(livemode).lower()}:{stripe_id}")


def uuid_or_none(value: str | None) -> str | None:
    """A metadata value as a canonical uuid string, or None if absent or not a uuid."""
    if value is None:
        return None
    try:
        return str(UUID(value))
    except ValueError:
        return None
