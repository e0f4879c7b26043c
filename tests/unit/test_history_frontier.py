"""An aggregate keeps only the frontier of each part's history: the current snapshot chosen from
it, snapshot by snapshot, is the one chosen from the whole history, in any order."""

from __future__ import annotations

from typing import cast

from hypothesis import given
from hypothesis import strategies as st

from billing_ledger.domain.ordering import StatusRules, Version
from billing_ledger.domain.state import PartState
from billing_ledger.domain.stripe_object import Part, _current, _frontier

RULES = StatusRules(
    terminal=frozenset({"canceled", "paid"}), rank={"open": 1, "paid": 2, "canceled": 3}
)
STATUSES = ["draft", "open", "paid", "canceled", None]

versions = st.lists(
    st.builds(
        Version,
        created=st.integers(0, 4),
        stripe_event_id=st.text("abc", min_size=1, max_size=3),
        status=st.sampled_from(STATUSES),
        attributes=st.fixed_dictionaries({"status": st.sampled_from(STATUSES)}),
        previous_attributes=st.one_of(
            st.just({}), st.fixed_dictionaries({"status": st.sampled_from(STATUSES)})
        ),
    ),
    min_size=1,
    max_size=12,
    unique_by=lambda v: v.stripe_event_id,
)


@given(versions)
def test_the_frontier_chooses_as_the_whole_history_does(history: list[Version]) -> None:
    parts = [Part("invoice", version, cast("PartState", {})) for version in history]
    kept: list[Part[PartState]] = []
    for n, part in enumerate(parts, 1):
        kept = _frontier([*kept, part], RULES)
        whole = _current(parts[:n], {"invoice": RULES})
        assert _current(kept, {"invoice": RULES}).version == whole.version
