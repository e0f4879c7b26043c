"""`up` reconciles every account it knows, not only the platform: the Connect accounts named
in STRIPE_CONNECT_ACCOUNTS and those the ledger has seen. Each account's withheld webhooks
are found with its `Stripe-Account` and carry it; an account the ledger neither saw nor was
told of is left alone."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import SecretStr

from billing_ledger import bootstrap
from billing_ledger.settings import Settings
from billing_ledger.stripe_api.accounts import known_accounts
from tests.conftest import fresh_database
from tests.pipeline import Pipeline
from tests.support.backfilling import (
    Account,
    current_rows,
    deliver,
    differences,
    make_history,
    stand_in,
)
from tests.support.webhooks import MASTER_KEY

SEEN, NAMED, UNKNOWN = "acct_1Seen", "acct_1Named", "acct_1Unknown"


def settings_for(account: Account, dsn: str, **more: Any) -> Settings:
    return Settings(
        DATABASE_URL=dsn,
        STRIPE_API_KEY=SecretStr("sk_test_reconcile_accounts"),
        STRIPE_API_BASE=account.fake.store.public_url,
        BILLING_LEDGER_MASTER_KEY=SecretStr(MASTER_KEY),
        RECONCILE_INTERVAL_SECONDS=3600,
        **more,
    )


def test_up_reconciles_the_platform_and_every_connect_account_it_knows(
    postgres_server_url: str,
) -> None:
    with (
        stand_in() as account,
        fresh_database(postgres_server_url) as one,
        fresh_database(postgres_server_url) as two,
    ):
        store = account.fake.store
        make_history(account, 3)
        for connect in (SEEN, NAMED, UNKNOWN):
            make_history(account, 2, connect=connect)
        events = {c: [dict(e) for e in store.of(c).events] for c in ("", SEEN, NAMED, UNKNOWN)}
        withheld = {c: events[c][1::3] for c in ("", SEEN)} | {NAMED: events[NAMED]}
        complete, lossy = Pipeline(one), Pipeline(two)
        try:
            deliver(complete, [e for c in ("", SEEN, NAMED) for e in events[c]])
            held_back = {e["id"] for told in withheld.values() for e in told}
            deliver(lossy, [e for c in ("", SEEN) for e in events[c] if e["id"] not in held_back])

            settings = settings_for(account, two, STRIPE_CONNECT_ACCOUNTS=NAMED)
            with bootstrap.scheduled_reconciliation(settings, two, lossy.log) as schedule:
                assert schedule is not None
                found = schedule.run_once()

            assert list(found) == ["", NAMED, SEEN]
            assert {c: run.missing for c, run in found.items() if run is not None} == {
                c: dict(Counter(e["type"] for e in told)) for c, told in withheld.items()
            }
            lossy.process_all()
            assert differences(current_rows(one), current_rows(two)) == []
            audited = lossy.query(
                "SELECT detail->>'account' FROM billing.audit_log WHERE action = 'reconcile' "
                "ORDER BY id"
            )
            assert [row[0] for row in audited] == [None, NAMED, SEEN]
            assert UNKNOWN not in known_accounts(lossy.pool, False, [NAMED])
        finally:
            complete.close()
            lossy.close()
