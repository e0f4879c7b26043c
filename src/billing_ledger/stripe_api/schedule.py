"""Reconciliation on a schedule, inside `up`: a thread that runs it every interval.

A run that fails (Stripe or the log unavailable) is logged, audited and tried again at the
next interval; it never stops the process. Each run's outcome goes to the audit log with its
missing counts per type (ids and counts only), and its counts to /metrics (reconcile.py).
"""

from __future__ import annotations

import logging
import threading

from psycopg_pool import ConnectionPool

from billing_ledger.errors import BillingLedgerError
from billing_ledger.infra import audit
from billing_ledger.stripe_api.reconcile import Reconciled, Reconciler

log = logging.getLogger(__name__)

FIRST_RUN_SECONDS = 60.0  # after start: webhooks in flight land first; restarts do not hammer


class ReconcileSchedule:
    def __init__(self, reconciler: Reconciler, pool: ConnectionPool, interval: float) -> None:
        self._reconciler, self._pool, self._interval = reconciler, pool, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reconciler", daemon=True)
        self.runs = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        wait = min(FIRST_RUN_SECONDS, self._interval)
        while not self._stop.wait(wait):
            wait = self._interval
            self.run_once()

    def run_once(self) -> Reconciled | None:
        """One run, audited; None if it failed (logged: it is tried again next time)."""
        try:
            found = self._reconciler.run()
        except (BillingLedgerError, OSError) as e:
            log.warning("scheduled reconciliation failed: %s", type(e).__name__)
            self._audit("failed", {"reason": type(e).__name__})
            return None
        except Exception:  # a bug must not stop `up`: the next interval tries again
            log.exception("scheduled reconciliation failed")
            return None
        self.runs += 1
        self._audit("succeeded", audit_detail(found))
        return found

    def _audit(self, outcome: str, detail: dict[str, object]) -> None:
        try:
            with self._pool.connection() as conn:
                audit.record(conn, "reconcile", outcome, detail, actor="scheduler")
        except Exception as e:
            log.warning("reconciliation not audited: %s", type(e).__name__)


def audit_detail(found: Reconciled) -> dict[str, object]:
    """What the audit log says of a run: counts and the window, never bodies."""
    return {
        "listed": found.listed,
        "missing": dict(found.missing),
        "missing_total": found.missing_total,
        "window_start": found.window_start.isoformat(),
        **({"warning": found.warning} if found.warning else {}),
    }
