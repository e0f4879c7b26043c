"""A part keeps only the frontier of its history, exactly: whatever arrives, in any order, with
duplicates and late ones, the current snapshot and the contradiction verdict chosen from what
it keeps are those chosen from its whole history, at every step.

An arrival older than the frontier's boundary cannot be decided from it: the part then needs its
whole history (which the aggregate's stored events hold), and the test gives it, as the
processor does, by replaying every earlier arrival into a history kept whole."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_ledger.domain.frontier import PartHistory, choose
from billing_ledger.domain.ordering import (
    StatusRules,
    Version,
    contradiction,
    current,
    state_digest,
)

# Invoice-like: two terminal statuses, a non-terminal one that can still become either.
RULES = StatusRules(
    terminal=frozenset({"paid", "void"}),
    rank={"draft": 0, "open": 1, "uncollectible": 2, "paid": 3, "void": 4},
)
STATUSES = ["draft", "open", "uncollectible", "paid", "void"]
STATES = [{"n": n} for n in range(3)]  # few states, so digests chain and repeat
DIGESTS = [state_digest(s) for s in STATES]


@dataclass(frozen=True)
class Item:
    """What the aggregate keeps of one snapshot (a `Part`, reduced to its version)."""

    version: Version


@st.composite
def versions(draw: st.DrawFn) -> list[Version]:
    count = draw(st.integers(1, 12))
    seconds = draw(st.integers(1, 4))
    found = []
    for n in range(count):
        status = draw(st.sampled_from(STATUSES))
        before = draw(st.one_of(st.none(), st.sampled_from(STATUSES)))
        found.append(
            Version(
                created=draw(st.integers(0, seconds - 1)),
                stripe_event_id=f"evt_{draw(st.integers(0, 3))}{n:02}",
                status=status,
                attributes={"status": status},
                previous_attributes={} if before is None else {"status": before},
                previous_state_digest=draw(st.one_of(st.none(), st.sampled_from(DIGESTS))),
                state=draw(st.sampled_from(STATES)),
            )
        )
    return found


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[Version], list[tuple[int, bool]]]:
    """Snapshots, and the order they arrive in: each one or more times, in any order, each
    arrival with whether the part is loaded afresh (from an aggregate snapshot, its dropped
    snapshots not in memory) after it."""
    known = draw(versions())
    order = draw(st.permutations(list(range(len(known)))))
    repeats = draw(st.lists(st.sampled_from(order), max_size=4))
    sequence = list(order)
    for index in repeats:
        sequence.insert(draw(st.integers(0, len(sequence))), index)
    forget = draw(st.lists(st.booleans(), min_size=len(sequence), max_size=len(sequence)))
    return known, list(zip(sequence, forget, strict=True))


def whole(arrived: list[Item], window: int) -> PartHistory[Item]:
    """The part as replaying its stored events gives it: dropped snapshots kept in memory."""
    history: PartHistory[Item] = PartHistory()
    for item in arrived:
        history.add(item, RULES, window)
    return history


@settings(max_examples=300, deadline=None)
@given(arrivals(), st.sampled_from([0, 1, 2]))
def test_the_frontier_decides_as_the_whole_history_does(
    drawn: tuple[list[Version], list[tuple[int, bool]]], window: int
) -> None:
    known, sequence = drawn
    history: PartHistory[Item] = PartHistory()
    arrived: list[Item] = []
    for index, forget in sequence:
        item = Item(known[index])
        if any(a.version.stripe_event_id == item.version.stripe_event_id for a in arrived):
            continue  # a duplicate: the aggregate's `applied` set turns it away first
        decisive = history.decisive(item.version.created)
        if decisive is None:  # older than the boundary, and what was dropped is not in memory
            history = whole(arrived, window)
            decisive = history.decisive(item.version.created)
            assert decisive is not None
        full = [a.version for a in arrived]
        assert contradiction([d.version for d in decisive], item.version, RULES) == contradiction(
            full, item.version, RULES
        )
        assert choose([*decisive, item], RULES).version == current([*full, item.version], RULES)
        history.add(item, RULES, window)
        arrived.append(item)
        assert choose(history.kept, RULES).version == current([a.version for a in arrived], RULES)
        if forget:
            history = history.without_dropped()


@settings(max_examples=100, deadline=None)
@given(versions())
def test_a_history_in_order_keeps_a_bounded_frontier(known: list[Version]) -> None:
    """Arriving in order, a part keeps at most the latest `window + 1` seconds and the one
    snapshot before them, whatever its length: nothing old is needed again."""
    history: PartHistory[Item] = PartHistory()
    for version in sorted(known, key=lambda v: v.created):
        assert history.decisive(version.created) is not None
        history.add(Item(version), RULES, 0)
        latest = max(item.version.created for item in history.kept)
        older = [item for item in history.kept if item.version.created < latest]
        assert len(older) <= 1
