"""`billing-ledger portal-link cus_… [--expires 1h]`: a signed link to a customer's pages.

Printed on stdout, once: whoever holds it sees that customer's payment methods until it
expires. Signed with BILLING_LEDGER_LINK_SECRET (or the embedded default's key file), under
PUBLIC_BASE_URL.
"""

from __future__ import annotations

import argparse
import time

from billing_ledger import bootstrap
from billing_ledger.settings import Settings


def portal_link(settings: Settings, args: argparse.Namespace) -> int:
    links = bootstrap.page_links(settings)
    expires = int(time.time()) + args.expires
    print(links.portal_url(args.customer, args.account, args.live, expires))
    return 0
