"""Under `up` the workers yield the cores to ingest: their threads run at a lower priority."""

from __future__ import annotations

import os
import threading

from billing_ledger.bootstrap import lower_priority


def test_only_the_calling_thread_is_lowered() -> None:
    seen: dict[str, int] = {}

    def worker() -> None:
        thread = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, thread)
        lower_priority(5)
        seen["change"] = os.getpriority(os.PRIO_PROCESS, thread) - before

    main_before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == {"change": 5}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main_before
