"""`billing-ledger customers create`: a customer through Stripe, from the command line."""

from __future__ import annotations

import argparse

from billing_ledger.cli.acting import act, asked
from billing_ledger.settings import Settings
from billing_ledger.stripe_api.requests import NewCustomer


def customers(settings: Settings, args: argparse.Namespace) -> int:
    request = asked(
        NewCustomer,
        email=args.email,
        name=args.name,
        user_id=args.user_id,
        payment_method=args.payment_method,
        test_clock=args.test_clock,
    )
    return act(
        settings,
        "customers.create",
        args.idempotency_key,
        args.account,
        lambda services, caller: services.customers.create(caller, request),
    )
