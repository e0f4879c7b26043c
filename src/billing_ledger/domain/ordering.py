"""Which snapshot of one Stripe object is its current state.

Stripe's `created` has one-second resolution and deliveries arrive in any order, so arrival
order means nothing. The current snapshot is a function of the *set* of snapshots seen, never
of the order they came in (a rule applied pairwise on arrival is not, when three snapshots share
a second), chosen thus:
1. Terminal states are final: the first terminal state the object reached is its status for
   good (an invoice paid and then voided stays paid). Its current snapshot is the latest one
   showing that status; one after it showing another contradicts it (`contradiction`).
2. Otherwise a later `created` wins.
3. Within one second, the order that best explains the snapshots (`causal_order`): a snapshot
   directly follows another when the state it says it changed from is that other's state. That
   earlier state is the snapshot's own object with its `data.previous_attributes` laid over it
   (Stripe sends only the changed keys of a hash, arrays whole), read as the part's state and
   compared by digest, so a change inside `invoice_settings` or to one item's quantity in
   `items.data` counts like a top-level one. Where that is unknown (older stored events), the
   top-level scalars the snapshot says it had before are compared with the other's.
4. Where that does not tell, the state rank of the object's status (a payment cannot
   un-succeed within a second; of two terminal states, the one with more behind it first),
   then the event id, so the choice is deterministic.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

Scalar = str | int | float | bool | None

# Snapshots of one second ordered exactly (by search) up to this many; beyond, greedily.
MAX_EXACT = 10
STRONG, WEAK = 2, 1  # how well one snapshot directly following another is explained


@dataclass(frozen=True)
class Version:
    """Where one snapshot sits in its object's history."""

    created: int
    stripe_event_id: str
    status: str | None = None
    # Top-level scalar attributes of the snapshot, and the previous values Stripe reported.
    attributes: Mapping[str, Scalar] = field(default_factory=dict)
    previous_attributes: Mapping[str, Scalar] = field(default_factory=dict)
    # The digest (`state_digest`) of the part's state the snapshot says it changed from, and
    # the part's own state: what tells which snapshot of a second follows which.
    previous_state_digest: str | None = None
    state: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @cached_property
    def state_digest(self) -> str | None:
        """`state_digest(state)`, computed once: the ordering rules compare it for every
        snapshot of a second, several times per Stripe event (a version and its state never
        change once made)."""
        return state_digest(self.state) if self.state is not None else None


@dataclass(frozen=True)
class StatusRules:
    """An object type's terminal statuses and the rank used to order states within a second."""

    terminal: frozenset[str] = frozenset()
    rank: Mapping[str, int] = field(default_factory=dict)

    def is_terminal(self, status: str | None) -> bool:
        return status in self.terminal


def current(versions: Iterable[Version], rules: StatusRules) -> Version:
    """The current one among the known snapshots of an object (or of one part of it)."""
    known = list(versions)
    reached = _first_terminal_status(known, rules)
    if reached is None:
        return _last_of(known, known, rules)
    return _last_of([v for v in known if v.status == reached[0]], known, rules)


def first_terminal(known: list[Version], rules: StatusRules) -> Version | None:
    """The snapshot in which the object first reached a terminal state, if it did."""
    tied = _earliest_terminal(known, rules)
    if not tied:
        return None
    if len(tied) == 1:
        return tied[0]
    earliest = tied[0].created
    return next(v for v in second_order(known, earliest, rules) if rules.is_terminal(v.status))


def _earliest_terminal(known: list[Version], rules: StatusRules) -> list[Version]:
    """The snapshots in a terminal state created in the earliest second any was."""
    terminal = [v for v in known if v.status in rules.terminal]
    if not terminal:
        return []
    earliest = min(v.created for v in terminal)
    return [v for v in terminal if v.created == earliest]


def _first_terminal_status(known: list[Version], rules: StatusRules) -> tuple[str, int] | None:
    """The status of `first_terminal` and its second, without ordering that second when
    the terminal snapshots tied in it all show one status (`paid` told by `invoice.paid` and
    `invoice.payment_succeeded`): whichever of them is first, that is the status."""
    tied = _earliest_terminal(known, rules)
    if not tied:
        return None
    status = tied[0].status
    if all(v.status == status for v in tied):
        assert status is not None  # terminal
        return status, tied[0].created
    first = first_terminal(known, rules)
    assert first is not None and first.status is not None
    return first.status, first.created


def contradiction(history: list[Version], incoming: Version, rules: StatusRules) -> str | None:
    """The terminal status `incoming` contradicts, if it does: it comes after the snapshot in
    which the object first reached a terminal state, and shows another status (Stripe never
    sends one; a signed history may)."""
    known = [*history, incoming]
    reached = _first_terminal_status(known, rules)
    if reached is None:
        return None
    status, second = reached
    # Showing the first terminal status contradicts nothing (also when `incoming` is that
    # first snapshot itself: it shows its own status).
    if incoming.status == status:
        return None
    if incoming.created != second:
        return status if incoming.created > second else None
    first = first_terminal(known, rules)
    assert first is not None
    if first is incoming:
        return None
    order = second_order(known, second, rules)
    return status if order.index(incoming) > order.index(first) else None


def _last_of(candidates: list[Version], known: list[Version], rules: StatusRules) -> Version:
    latest = max(v.created for v in candidates)
    tied = [v for v in candidates if v.created == latest]
    # Usually one snapshot per second: nothing to order (this runs twice per Stripe event).
    if len(tied) == 1:
        return tied[0]
    wanted = {id(v) for v in tied}
    return next(v for v in reversed(second_order(known, latest, rules)) if id(v) in wanted)


def second_order(known: list[Version], second: int, rules: StatusRules) -> list[Version]:
    """The snapshots of `second`, earliest first, after the object's current state before it."""
    earlier = [v for v in known if v.created < second]
    anchor = current(earlier, rules) if earlier else None
    return causal_order([v for v in known if v.created == second], rules, anchor)


def causal_order(
    versions: list[Version], rules: StatusRules, anchor: Version | None = None
) -> list[Version]:
    """Snapshots of one second, earliest first, after `anchor` (the object before that second).

    The order is the one in which the most snapshots are explained by the one just before them
    (`explains`); among those, the first in (rank, event id) at each step. Snapshots saying the
    same (a change undone within the second) do not fool it: their predecessors differ."""
    keyed = sorted(versions, key=lambda v: (rules.rank.get(v.status or "", 0), v.stripe_event_id))
    digests = [_digest_of(v) for v in keyed]
    weight = [
        [explains(a, da, b, db) if a is not b else 0 for b, db in zip(keyed, digests, strict=True)]
        for a, da in zip(keyed, digests, strict=True)
    ]
    start = (
        [explains(anchor, _digest_of(anchor), b, db) for b, db in zip(keyed, digests, strict=True)]
        if anchor is not None
        else [0] * len(keyed)
    )
    pick = _best_path if len(keyed) <= MAX_EXACT else _greedy_path
    return [keyed[i] for i in pick(weight, start)]


def explains(
    earlier: Version, earlier_digest: str | None, later: Version, later_digest: str | None
) -> int:
    """How well `later` directly following `earlier` is explained: STRONG when the state
    `later` says it changed from is `earlier`'s; WEAK when it reports no change and shows the
    same state (the same moment told twice, as `invoice.paid` and `invoice.payment_succeeded`
    do), or when only the top-level scalars it says it had before are `earlier`'s."""
    if earlier_digest is not None:
        if later.previous_state_digest is not None:
            if later.previous_state_digest == earlier_digest:
                return STRONG
        elif not later.previous_attributes and earlier_digest == later_digest:
            return WEAK
    return WEAK if _follows(later, earlier) else 0


def _follows(later: Version, earlier: Version) -> bool:
    compared = [key for key in later.previous_attributes if key in earlier.attributes]
    return bool(compared) and all(
        earlier.attributes[key] == later.previous_attributes[key] for key in compared
    )


def _best_path(weight: list[list[int]], start: list[int]) -> list[int]:
    """The order of highest total weight (each snapshot weighed by how well the one before it,
    or the anchor for the first, explains it); ties go to the lowest index at each step."""
    n = len(start)
    memo: dict[tuple[int, int], int] = {}

    def link(last: int, j: int) -> int:
        return start[j] if last < 0 else weight[last][j]

    def best(mask: int, last: int) -> int:
        """The most weight ordering the snapshots of `mask` after `last` can give."""
        if not mask:
            return 0
        found = memo.get((mask, last))
        if found is not None:
            return found
        left = [j for j in range(n) if mask >> j & 1]
        # No order does better than each snapshot after its best possible predecessor.
        bound = sum(max([link(last, j), *(weight[i][j] for i in left)]) for j in left)
        result = 0
        for j in sorted(left, key=lambda j: -link(last, j)):  # likely links first
            result = max(result, link(last, j) + best(mask & ~(1 << j), j))
            if result == bound:
                break
        memo[(mask, last)] = result
        return result

    order: list[int] = []
    mask, last = (1 << n) - 1, -1
    while mask:
        target = best(mask, last)
        last = next(
            j
            for j in range(n)
            if mask >> j & 1 and link(last, j) + best(mask & ~(1 << j), j) == target
        )
        order.append(last)
        mask &= ~(1 << last)
    return order


def _greedy_path(weight: list[list[int]], start: list[int]) -> list[int]:
    """For an unusually crowded second: each next, the one the last explains best."""
    left, order, last = list(range(len(start))), [], -1
    while left:
        pick = max(left, key=lambda j: (start[j] if last < 0 else weight[last][j], -j))
        order.append(pick)
        left.remove(pick)
        last = pick
    return order


def _digest_of(version: Version) -> str | None:
    return version.state_digest


def state_digest(state: Mapping[str, Any]) -> str:
    """A part's state, in 16 hex digits: equal states give equal digests, in any process.

    The digest is of `json.dumps(state, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)` in UTF-8 (digests are stored in domain events, so that text is fixed).
    orjson writes the same bytes for what a state holds (strings, integers, booleans, nulls,
    lists and string-keyed dicts; keys sorted by code point, the same escapes) several times
    faster; whatever it might write otherwise goes to `json`: output with a number that has a
    fraction or an exponent (float formatting differs), or anything orjson refuses (an integer
    past 64 bits, a non-string key, a type `json` would not write either)."""
    try:
        text = orjson.dumps(state, option=_DIGEST_OPTIONS)
    except orjson.JSONEncodeError:
        return _json_digest(state)
    if _FLOAT_SHAPED.search(text) is not None:
        return _json_digest(state)
    return hashlib.blake2b(text, digest_size=8).hexdigest()


# No `default`: a dataclass or a datetime makes orjson raise, as it makes `json` raise.
_DIGEST_OPTIONS = (
    orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
)
# A number with a fraction or an exponent where a value starts (or such text in a string: a
# cheap, conservative test).
_FLOAT_SHAPED = re.compile(rb"[:,\[]-?[0-9]+[.eE]")


def _json_digest(state: Mapping[str, Any]) -> str:
    text = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def previous_object(obj: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    """The object as it was before the change an event reports: `previous` (its
    `data.previous_attributes`) laid over it. Stripe sends only the changed keys of a hash
    (nested hashes likewise) and arrays whole; a key that was not there before is null in it
    (a metadata key just added), so null keys are left out, as the readers take absent for null.
    """
    merged = dict(obj)
    for key, value in previous.items():
        now = obj.get(key)
        if isinstance(value, dict) and isinstance(now, dict):
            merged[key] = previous_object(now, value)
        elif value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


_SCALAR_TYPES = (str, int, float, bool)  # a tuple: isinstance with `str | int | ...` is slower


def scalar_attributes(obj: Mapping[str, Any]) -> dict[str, Scalar]:
    """The top-level scalar attributes of a Stripe object or of its previous_attributes."""
    return {k: v for k, v in obj.items() if v is None or isinstance(v, _SCALAR_TYPES)}
