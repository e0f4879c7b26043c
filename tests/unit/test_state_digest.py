"""`state_digest` is the digest of the standard library's JSON text of a state, whichever
encoder wrote it (digests are stored in domain events: the text is fixed)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from billing_ledger.domain.ordering import Version, state_digest


def stdlib_digest(state: Any) -> str:
    text = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(-1e-3, 1e-3),  # where orjson and repr write floats differently
    st.floats(1e15, 1e22),
    st.text(),
    st.text(alphabet="0123456789.eE-:,[").map(str),  # strings that look like numbers
)
keys = st.text(max_size=8) | st.sampled_from(["é", "Z", "a", "😀", "\uffff", "\x00", "1"])
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=30,
)


@given(st.dictionaries(keys, values, max_size=6))
def test_the_digest_is_of_the_standard_librarys_json(state: dict[str, Any]) -> None:
    assert state_digest(state) == stdlib_digest(state)


def test_what_the_standard_library_refuses_is_refused() -> None:
    for state in ({1: "a", "b": 2}, {"when": object()}):
        try:
            stdlib_digest(state)
        except TypeError as expected:
            refused: type[Exception] = type(expected)
        else:
            raise AssertionError(state)
        try:
            state_digest(state)  # type: ignore[arg-type]
        except refused:
            continue
        raise AssertionError(f"accepted {state!r}")


def test_a_versions_digest_is_its_states() -> None:
    state = {"status": "paid", "lines": [{"amount": 100}]}
    version = Version(created=1, stripe_event_id="evt_1", state=state)
    assert version.state_digest == stdlib_digest(state)
    assert Version(created=1, stripe_event_id="evt_1").state_digest is None
    assert version == Version(created=1, stripe_event_id="evt_1", state={})  # not compared
