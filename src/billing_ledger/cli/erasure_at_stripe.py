"""`forget cus_… --also-stripe`: after the data key is erased, the customer is deleted at
Stripe too, as a command (`CustomerService.delete`: recorded, exactly once).

Everything that can be refused is refused before anything is erased: a subject that is not a
Stripe customer id, no STRIPE_API_KEY, a key of the other mode than the customer's. The
command's idempotency key is derived from the subject (`forget:cus_…`), so running `forget`
again after Stripe was unavailable deletes once, and after a success answers the recorded
outcome. The ledger's row is marked deleted by Stripe's signed `customer.deleted`, which
arrives already redacted (the key is gone), never by this command.
"""

from __future__ import annotations

import re
import sys

from billing_ledger.cli.acting import command_outcome, gateway
from billing_ledger.errors import ConfigurationError
from billing_ledger.infra import audit
from billing_ledger.settings import Settings
from billing_ledger.stripe_api.client import StripeApi
from billing_ledger.stripe_api.commands import Caller
from billing_ledger.stripe_api.errors import TransientStripeError

CUSTOMER_ID = re.compile(r"^cus_[A-Za-z0-9]+$")


def stripe_for(settings: Settings, subject: str) -> StripeApi:
    """The client that will delete `subject`, or a ConfigurationError (exit 2) saying why not."""
    if not CUSTOMER_ID.match(subject):
        raise ConfigurationError(
            f"--also-stripe deletes a Stripe customer: {subject!r} is not a cus_… id"
        )
    return gateway(settings)


def check_mode(stripe: StripeApi, subject: str, livemode: bool) -> None:
    if stripe.livemode != livemode:
        raise ConfigurationError(
            f"{subject} is a {'live' if livemode else 'test'}-mode customer but STRIPE_API_KEY "
            f"is a {'live' if stripe.livemode else 'test'}-mode key: nothing was erased"
        )


def delete_at_stripe(
    settings: Settings, dsn: str, stripe: StripeApi, subject: str, account: str
) -> int:
    caller = Caller(f"cli:{audit.current_actor()}", f"forget:{subject}", account)
    try:
        outcome = command_outcome(
            settings,
            dsn,
            stripe,
            "customers.delete",
            caller,
            lambda services, asking: services.customers.delete(asking, subject),
        )
    except TransientStripeError as e:
        print(
            f"billing-ledger: the data key is erased, but Stripe did not delete {subject} yet "
            f"({e.message}); run the same forget --also-stripe again",
            file=sys.stderr,
        )
        return 1
    if outcome.status >= 400:
        print(
            f"billing-ledger: Stripe did not delete {subject}: {outcome.body.get('error')}",
            file=sys.stderr,
        )
        return 1
    replayed = " (already, by an earlier forget)" if outcome.replayed else ""
    print(f"deleted {subject} at Stripe{replayed}; its customer.deleted webhook marks the row")
    return 0
