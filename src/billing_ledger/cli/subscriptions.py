"""`billing-ledger subscriptions create|change|preview|cancel|resume|pause|resume-collection|
trial`: the Subscription Manager from the command line (rows arrive by webhook)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from billing_ledger.cli.acting import Act, act, asked
from billing_ledger.errors import ConfigurationError
from billing_ledger.settings import Settings
from billing_ledger.stripe_api.subscription_requests import (
    Cancellation,
    CollectionPause,
    NewSubscription,
    PricedItem,
    SubscriptionChange,
    TrialChange,
)


def subscriptions(settings: Settings, args: argparse.Namespace) -> int:
    action: str = args.subscriptions_command
    do = ACTIONS[action](args)
    return act(settings, f"subscriptions.{action}", args.idempotency_key, args.account, do)


def _create(args: argparse.Namespace) -> Act:
    items = [_item(text) for text in args.price]
    request = asked(
        NewSubscription,
        customer=args.customer,
        items=items,
        trial_days=args.trial_days,
        trial_end_behavior=args.trial_end_behavior,
        coupon=args.coupon,
        promotion_code=args.promotion_code,
        payment_method=args.payment_method,
    )
    return lambda services, caller: services.subscriptions.create(caller, request)


def _change_request(args: argparse.Namespace) -> SubscriptionChange:
    return asked(
        SubscriptionChange,
        price=args.price,
        quantity=args.quantity,
        item=args.item,
        add=[_item(text) for text in args.add or []],
        remove=list(args.remove or []),
        proration_behavior=args.proration_behavior,
        proration_date=args.proration_date,
    )


def _change(args: argparse.Namespace) -> Act:
    change = _change_request(args)
    return lambda services, caller: services.subscriptions.change(caller, args.id, change)


def _preview(args: argparse.Namespace) -> Act:
    change = _change_request(args)
    return lambda services, caller: services.subscriptions.preview(caller, args.id, change)


def _cancel(args: argparse.Namespace) -> Act:
    cancellation = asked(Cancellation, at_period_end=args.at_period_end, at=args.at)
    return lambda services, caller: services.subscriptions.cancel(caller, args.id, cancellation)


def _resume(args: argparse.Namespace) -> Act:
    return lambda services, caller: services.subscriptions.resume(caller, args.id)


def _pause(args: argparse.Namespace) -> Act:
    pause = asked(CollectionPause, behavior=args.behavior, resumes_at=args.resumes_at)
    return lambda services, caller: services.subscriptions.pause(caller, args.id, pause)


def _resume_collection(args: argparse.Namespace) -> Act:
    return lambda services, caller: services.subscriptions.resume_collection(caller, args.id)


def _trial(args: argparse.Namespace) -> Act:
    end: int | str = "now" if args.end_now else args.extend_to
    trial = asked(TrialChange, trial_end=end)
    return lambda services, caller: services.subscriptions.change_trial(caller, args.id, trial)


def _item(text: str) -> PricedItem:
    """`price_…` or `price_…:QUANTITY`."""
    price, _, quantity = text.partition(":")
    if quantity and not quantity.isdigit():
        raise ConfigurationError(f"--price {text}: the quantity after ':' must be a number")
    return asked(PricedItem, price=price, quantity=int(quantity or 1))


ACTIONS: dict[str, Callable[[argparse.Namespace], Act]] = {
    "create": _create,
    "change": _change,
    "preview": _preview,
    "cancel": _cancel,
    "resume": _resume,
    "pause": _pause,
    "resume-collection": _resume_collection,
    "trial": _trial,
}
