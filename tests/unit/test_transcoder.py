"""OrjsonTranscoder writes and reads exactly what eventsourcing's JSONTranscoder does."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    UUIDAsHex,
)
from hypothesis import given
from hypothesis import strategies as st

from billing_ledger.processing.event_store import OrjsonTranscoder
from billing_ledger.schemas.fastjson import loads


def registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    # What eventsourcing's Application.register_transcodings registers.
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


STOCK = registered(JSONTranscoder())
FAST = registered(OrjsonTranscoder())

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(-1e-3, 1e-3),  # where orjson and repr write floats differently
    st.text(),
    st.uuids().map(str),  # strings that look like UUIDs
    st.just("_type_"),
    st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(),
    st.datetimes(timezones=st.timezones()),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(st.dictionaries(st.text(max_size=8), values, max_size=6))
def test_encodes_the_same_bytes_and_decodes_the_same_objects(state: dict[str, Any]) -> None:
    stored = STOCK.encode(state)
    assert FAST.encode(state) == stored
    # By repr too: an integer read as a float may still compare equal to it.
    assert repr(FAST.decode(stored)) == repr(STOCK.decode(stored))


@given(st.text(max_size=40).map(str.encode) | st.binary(max_size=40))
def test_loads_reads_or_refuses_as_json_does(data: bytes) -> None:
    try:
        expected: Any = ("ok", json.loads(data))
    except ValueError as e:
        expected = ("error", type(e))
    try:
        got: Any = ("ok", loads(data))
    except ValueError as e:
        got = ("error", type(e))
    assert got[0] == expected[0]
    if got[0] == "ok":
        # By repr: `NaN` reads as a float that equals nothing, not even itself.
        assert repr(got) == repr(expected)


documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**65), max_value=2**65)
    | st.floats()
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(documents)
def test_loads_reads_what_json_writes_as_json_reads_it(document: Any) -> None:
    data = json.dumps(document).encode()
    assert repr(loads(data)) == repr(json.loads(data))


@pytest.mark.parametrize(
    "number", [-(2**63) - 1, -(10**19) + 1, 2**64, 2**64 + 1, 123456789012345678901234567890]
)
def test_integers_past_64_bits_are_read_exactly(number: int) -> None:
    read = loads(b'{"n": %d, "id": "cus_1"}' % number)
    assert type(read["n"]) is int and read["n"] == number


def test_nested_transcoded_objects_are_revived_inside_out() -> None:
    class Pair(Transcoding):
        type = tuple
        name = "pair"

        def encode(self, obj: tuple[Any, ...]) -> dict[str, Any]:
            return {"first": obj[0]}

        def decode(self, data: dict[str, Any]) -> tuple[Any, ...]:
            assert isinstance(data["first"], UUID)  # inner objects come revived
            return (data["first"],)

    stock, fast = registered(JSONTranscoder()), registered(OrjsonTranscoder())
    stock.register(Pair())
    fast.register(Pair())
    uuid = UUID(int=7)
    stored = b'{"p":{"_type_":"pair","_data_":{"first":{"_type_":"uuid_hex","_data_":"%s"}}}}' % (
        uuid.hex.encode()
    )
    assert fast.decode(stored) == stock.decode(stored) == {"p": (uuid,)}


def test_types_orjson_would_write_unasked_are_left_to_json() -> None:
    class Plan(Enum):
        BASIC = "basic"

    class PlanAsName(Transcoding):
        type = Plan
        name = "plan"

        def encode(self, obj: Plan) -> str:
            return obj.name

        def decode(self, data: str) -> Plan:
            return Plan[data]

    stock, fast = registered(JSONTranscoder()), registered(OrjsonTranscoder())
    stock.register(PlanAsName())
    fast.register(PlanAsName())
    state = {"plan": Plan.BASIC}
    assert (
        fast.encode(state) == stock.encode(state) == b'{"plan":{"_type_":"plan","_data_":"BASIC"}}'
    )
