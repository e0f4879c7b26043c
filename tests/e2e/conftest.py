from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.chaos_services import PrivateBroker, free_port_pair


@pytest.fixture
def private_broker() -> Iterator[PrivateBroker]:
    """A Kafka broker of this test's own on free ports, not started yet: the test starts, kills
    and restarts it (the shared broker is never touched). Stopped and its data removed after."""
    broker = PrivateBroker(free_port_pair())
    try:
        yield broker
    finally:
        broker.stop()
        broker.remove_data()
