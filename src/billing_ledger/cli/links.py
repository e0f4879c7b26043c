"""`billing-ledger portal-link cus_… [--expires 1h]`: a signed link to a customer's pages;
`billing-ledger dashboard-link [--expires 1h] [--account acct_…] [--livemode]`: one to the
finance dashboard of that account and mode.

Printed on stdout, once: whoever holds it sees that customer's payment methods (or that
account's figures) until it expires. Signed with BILLING_LEDGER_LINK_SECRET (or the embedded
default's key file), under PUBLIC_BASE_URL.
"""

from __future__ import annotations

import argparse
import time

from billing_ledger import bootstrap
from billing_ledger.settings import Settings
from billing_ledger.web.dashboard.access import PATH
from billing_ledger.web.dashboard.access import dashboard_link as dashboard_token


def portal_link(settings: Settings, args: argparse.Namespace) -> int:
    links = bootstrap.page_links(settings)
    expires = int(time.time()) + args.expires
    print(links.portal_url(args.customer, args.account, args.live, expires))
    return 0


def dashboard_link(settings: Settings, args: argparse.Namespace) -> int:
    links = bootstrap.page_links(settings)
    expires = int(time.time()) + args.expires
    token = dashboard_token(links.signer, args.account, args.live, expires)
    print(f"{links.public}{PATH}?link={token}")
    return 0
