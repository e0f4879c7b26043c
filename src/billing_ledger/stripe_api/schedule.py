"""Reconciliation on a schedule, inside `up`: a thread that runs it every interval, for
every account it knows (accounts.py: the platform, the configured and the seen Connect
accounts), asked again before each run.

A run that fails (Stripe or the log unavailable) is logged, audited and tried again at the
next interval; it never stops the process, nor the other accounts' runs. Each account's
outcome goes to the audit log with its missing counts per type (ids and counts only), and
its counts to /metrics (reconcile.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from psycopg_pool import ConnectionPool

from billing_ledger.errors import BillingLedgerError
from billing_ledger.infra import audit
from billing_ledger.stripe_api.reconcile import Reconciled, Reconciler

log = logging.getLogger(__name__)

FIRST_RUN_SECONDS = 60.0  # after start: webhooks in flight land first; restarts do not hammer


class ReconcileSchedule:
    def __init__(
        self,
        accounts: Callable[[], Sequence[str]],
        reconciler: Callable[[str], Reconciler],
        pool: ConnectionPool,
        interval: float,
    ) -> None:
        self._accounts, self._reconciler = accounts, reconciler
        self._pool, self._interval = pool, interval
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

    def run_once(self) -> dict[str, Reconciled | None]:
        """One run for each known account, audited: account → what it found, or None if it
        failed (logged: it is tried again next time)."""
        try:
            accounts = list(self._accounts())
        except Exception as e:  # the database is down: the platform at least, as before
            log.warning("accounts to reconcile unknown: %s", type(e).__name__)
            accounts = [""]
        found: dict[str, Reconciled | None] = {}
        for account in accounts:
            if self._stop.is_set():
                break
            found[account] = self._run_account(account)
        return found

    def _run_account(self, account: str) -> Reconciled | None:
        named = {"account": account} if account else {}
        try:
            found = self._reconciler(account).run()
        except (BillingLedgerError, OSError) as e:
            log.warning("scheduled reconciliation failed: %s", type(e).__name__, extra=named)
            self._audit("failed", {**named, "reason": type(e).__name__})
            return None
        except Exception:  # a bug must not stop `up`: the next interval tries again
            log.exception("scheduled reconciliation failed", extra=named)
            return None
        self.runs += 1
        self._audit("succeeded", {**named, **audit_detail(found)})
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
