"""`billing-ledger portal-link cus_… [--expires 1h]`: a signed link to a customer's pages;
`billing-ledger pay-link pi_… [--expires 1h]`: a fresh one to a payment's page;
`billing-ledger dashboard-link [--expires 1h] [--account acct_…] [--livemode]`: one to the
finance dashboard of that account and mode.

Printed on stdout, once: whoever holds it sees that customer's payment methods (pays that
payment, or sees that account's figures) until it expires. Signed with
BILLING_LEDGER_LINK_SECRET (or the embedded default's key file), under PUBLIC_BASE_URL. A pay
link asks Stripe for the intent first: one that has nothing left to pay (succeeded,
processing, canceled), is unknown or has no customer gets no link, a one-line reason and exit 1.
"""

from __future__ import annotations

import argparse
import sys
import time

from billing_ledger import bootstrap
from billing_ledger.cli.acting import gateway
from billing_ledger.settings import Settings
from billing_ledger.stripe_api.errors import TransientStripeError
from billing_ledger.web.dashboard.access import PATH
from billing_ledger.web.dashboard.access import dashboard_link as dashboard_token
from billing_ledger.web.pages.pay_links import PayLinkRefused, PayLinks


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


def pay_link(settings: Settings, args: argparse.Namespace) -> int:
    links = PayLinks(gateway(settings), bootstrap.page_links(settings))
    try:
        made = links.mint(args.payment, args.account, args.expires)
    except PayLinkRefused as e:
        print(f"billing-ledger: pay-link: {e.reason}", file=sys.stderr)
        return 1
    except TransientStripeError as e:  # nothing wrong with the request: try again later
        print(f"billing-ledger: pay-link: Stripe did not answer: {e.message}", file=sys.stderr)
        return 1
    print(made.url)
    return 0
