"""`billing-ledger payment-methods save|verify|attach|detach|default`: a customer's payment
methods through Stripe, from the command line. Each is the HTTP API's command (recorded,
exactly once per --idempotency-key); the rows finance reads change when Stripe's webhooks
arrive."""

from __future__ import annotations

import argparse

from billing_ledger.cli.acting import Act, act, asked
from billing_ledger.errors import ConfigurationError
from billing_ledger.settings import Settings
from billing_ledger.stripe_api.requests import (
    MandateAcceptance,
    MicrodepositVerification,
    NewSetup,
    PaymentMethodChoice,
)
from billing_ledger.web.endpoints import ID_PATTERNS


def payment_methods(settings: Settings, args: argparse.Namespace) -> int:
    operation, do = _command(args)
    return act(settings, operation, args.idempotency_key, args.account, do)


def _command(args: argparse.Namespace) -> tuple[str, Act]:
    action = args.payment_methods_command
    if action == "save":
        owner = _id("customer", args.customer, "--customer")
        setup = asked(
            NewSetup,
            type=args.type,
            payment_method=args.payment_method,
            verification_method=args.verification_method,
            mandate=_mandate(args),
        )
        return "setup_intents.create", lambda s, c: s.customers.save_payment_method(c, owner, setup)
    if action == "verify":
        setup_id = _id("setup_intent", args.setup_intent, "seti_…")
        verification = asked(
            MicrodepositVerification, amounts=args.amounts, descriptor_code=args.descriptor_code
        )
        return "setup_intents.verify_microdeposits", lambda s, c: s.customers.verify_microdeposits(
            c, setup_id, verification
        )
    choice = asked(PaymentMethodChoice, payment_method=args.payment_method, default=args.default)
    if action == "detach":
        return "payment_methods.detach", lambda s, c: s.customers.detach_payment_method(
            c, choice.payment_method
        )
    owner = _id("customer", args.customer, "--customer")
    if action == "attach":
        return "payment_methods.attach", lambda s, c: s.customers.attach_payment_method(
            c, owner, choice
        )
    return "customers.default_payment_method", lambda s, c: s.customers.set_default_payment_method(
        c, owner, choice.payment_method
    )


def _mandate(args: argparse.Namespace) -> MandateAcceptance | None:
    if args.mandate_ip is None and args.mandate_user_agent is None:
        return None
    if args.mandate_ip is None or args.mandate_user_agent is None:
        raise ConfigurationError(
            "--mandate-ip and --mandate-user-agent go together (the customer's acceptance)"
        )
    return asked(MandateAcceptance, ip_address=args.mandate_ip, user_agent=args.mandate_user_agent)


def _id(kind: str, value: str, where: str) -> str:
    if not ID_PATTERNS[kind].match(value):
        raise ConfigurationError(f"{where}: {value!r} is not a Stripe {kind} id")
    return value
