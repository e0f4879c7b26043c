"""Part history benchmark: what one more snapshot costs an aggregate as its history grows.

    python -m benchmarks.part_history --updates 400

One subscription updated once a month (`customer.subscription.updated`, in order), applied in
this process through the domain alone (no store): prints, at each mark, the CPU time per
update since the previous mark and the size of the aggregate's snapshot (the JSON the processor
writes every 8 events, processing/snapshots.py). Neither needs a database; the sizes do not
depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import time
from uuid import UUID

from benchmarks.infra import conditions
from billing_ledger.domain.handling import A, apply_stripe_event, read_snapshots
from billing_ledger.domain.stripe_object import StripeObject
from billing_ledger.processing.snapshots import AggregateSnapshot
from billing_ledger.schemas.envelope import parse_event
from tests.support.stripe import CREATED, event, subscription

MONTH = 30 * 24 * 60 * 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=400)
    args = parser.parse_args()
    print(conditions())
    held: dict[UUID, StripeObject] = {}

    def load(cls: type[A], aggregate_id: UUID) -> A | None:
        found = held.get(aggregate_id)
        return found if isinstance(found, cls) else None

    events = [
        parse_event(
            json.dumps(
                event(
                    "customer.subscription.created" if n == 0 else "customer.subscription.updated",
                    subscription(quantity=n + 1),
                    created=CREATED + n * MONTH,
                    previous_attributes=None if n == 0 else {"quantity": n},
                )
            ).encode()
        )
        for n in range(args.updates)
    ]
    marks = {m for m in (25, 50, 100, 200, 400, 800, 1600) if m <= args.updates}
    started, last = time.process_time(), 0
    for n, stripe_event in enumerate(events, 1):
        for aggregate in apply_stripe_event(stripe_event, load, read_snapshots(stripe_event)):
            aggregate.collect_events()
            held[aggregate.id] = aggregate
        if n in marks:
            spent = time.process_time() - started
            (aggregate,) = held.values()
            size = len(json.dumps(AggregateSnapshot.of(aggregate).state, default=str))
            print(
                f"updates {n:5}: {1e6 * spent / (n - last):6.0f} µs CPU per update over the "
                f"last {n - last}; aggregate snapshot {size:,} B"
            )
            started, last = time.process_time(), n
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
