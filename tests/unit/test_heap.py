import gc
from collections.abc import Iterator

import pytest

from billing_ledger.infra import heap


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settle_keeps_startup_objects_out_of_collections_and_makes_them_rarer(
    collector: None,
) -> None:
    heap.settle()

    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, *heap.OLDER_THRESHOLDS)


def test_cycles_made_after_settling_are_still_collected(collector: None) -> None:
    heap.settle()

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # type: ignore[attr-defined]
    del a, b
    assert gc.collect() >= 2
