"""`billing-ledger payments create|refund`: charge once, refund, from the command line."""

from __future__ import annotations

import argparse

from billing_ledger.cli.acting import act, asked
from billing_ledger.settings import Settings
from billing_ledger.stripe_api.requests import NewPayment, NewRefund


def payments(settings: Settings, args: argparse.Namespace) -> int:
    if args.payments_command == "refund":
        refund = asked(NewRefund, amount=args.amount)
        return act(
            settings,
            "refunds.create",
            args.idempotency_key,
            args.account,
            lambda services, caller: services.payments.refund(caller, args.payment, refund),
        )
    payment = asked(
        NewPayment,
        customer=args.customer,
        amount=args.amount,
        currency=args.currency,
        payment_method=args.payment_method,
    )
    return act(
        settings,
        "payments.create",
        args.idempotency_key,
        args.account,
        lambda services, caller: services.payments.pay(caller, payment),
    )
