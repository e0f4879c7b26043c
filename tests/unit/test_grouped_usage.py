"""GroupedUsage: concurrent webhooks share secret-usage writes, and each awaits its own."""

from __future__ import annotations

import asyncio
import threading

import pytest

from billing_ledger.ingest.usage import GroupedUsage


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.writes: list[tuple[str, int]] = []
        self.fail = fail
        self.release = threading.Event()

    def record(self, secret_fingerprint: str, count: int = 1) -> None:
        self.release.wait(5)
        if self.fail:
            raise RuntimeError("database down")
        self.writes.append((secret_fingerprint, count))


def test_counts_that_arrive_during_a_write_go_out_together_in_the_next() -> None:
    recorder = Recorder()
    usage = GroupedUsage(recorder)

    async def scenario() -> None:
        first = asyncio.create_task(usage.record("fp_a"))
        await asyncio.sleep(0.05)  # the first write is in flight, held by the recorder
        rest = [asyncio.create_task(usage.record(fp)) for fp in ["fp_a"] * 5 + ["fp_b"] * 2]
        await asyncio.sleep(0.05)
        recorder.release.set()
        await asyncio.gather(first, *rest)

    asyncio.run(scenario())
    assert recorder.writes == [("fp_a", 1), ("fp_a", 5), ("fp_b", 2)]


def test_every_request_of_a_failed_write_sees_the_failure() -> None:
    recorder = Recorder(fail=True)
    recorder.release.set()
    usage = GroupedUsage(recorder)

    async def scenario() -> list[BaseException | None]:
        return await asyncio.gather(
            *(usage.record("fp_a") for _ in range(3)), return_exceptions=True
        )

    outcomes = asyncio.run(scenario())
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    with pytest.raises(RuntimeError):
        asyncio.run(usage.record("fp_a"))
