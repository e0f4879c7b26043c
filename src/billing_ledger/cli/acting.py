"""What the CLI's commands through Stripe share: the services on the configured database and
key, the caller (`cli:<operator>`), the idempotency key, the audit line and the answer.

The answer is printed as the HTTP API gives it (JSON); exit 0 when Stripe did it (or accepted
it: processing, requires_action), 1 when it refused (a declined card, invalid parameters).
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from billing_ledger import bootstrap
from billing_ledger.errors import ConfigurationError
from billing_ledger.infra import audit
from billing_ledger.settings import Settings
from billing_ledger.stripe_api.client import StripeApi
from billing_ledger.stripe_api.commands import Caller, Outcome
from billing_ledger.stripe_api.errors import TransientStripeError
from billing_ledger.web.endpoints import Services

Act = Callable[[Services, Caller], Outcome]
Asked = TypeVar("Asked", bound=BaseModel)


def asked(model: type[Asked], **fields: Any) -> Asked:
    """The request, or a ConfigurationError (exit 2) naming what is wrong with the arguments."""
    try:
        return model(**fields)
    except ValidationError as e:
        problems = "; ".join(
            (f"--{str(err['loc'][0]).replace('_', '-')}: " if err["loc"] else "")
            + err["msg"].removeprefix("Value error, ")
            for err in e.errors()
        )
        raise ConfigurationError(problems) from None


def gateway(settings: Settings) -> StripeApi:
    """The configured Stripe client, or a ConfigurationError (exit 2) saying how to give one."""
    found = bootstrap.stripe_gateway(settings)
    if found is None:
        raise ConfigurationError(
            "STRIPE_API_KEY is not set: give a Stripe secret key (or STRIPE_API_KEY_FILE); "
            "for the stand-in, any sk_test_… key with STRIPE_API_BASE=http://127.0.0.1:12113"
        )
    return found


def command_outcome(
    settings: Settings, dsn: str, stripe: StripeApi, operation: str, caller: Caller, do: Act
) -> Outcome:
    """`do` on the services over `dsn`, audited as `cli.<operation>`; a TransientStripeError
    (nothing final happened) is raised for the caller to explain."""
    with bootstrap.api_pool(dsn) as pool:
        with pool.connection() as conn:
            audit.create_table(conn)
        services = bootstrap.services(pool, stripe, bootstrap.page_links(settings))
        outcome = do(services, caller)
        with pool.connection() as conn:
            audit.record(
                conn,
                f"cli.{operation}",
                str(outcome.status),
                {"idempotency_key": caller.idempotency_key, "object_id": outcome.body.get("id")},
            )
    return outcome


def act(settings: Settings, operation: str, key: str | None, account: str, do: Act) -> int:
    stripe = gateway(settings)
    key = key or str(uuid.uuid4())
    caller = Caller(f"cli:{audit.current_actor()}", key, account)
    with bootstrap.database(settings) as dsn:
        try:
            outcome = command_outcome(settings, dsn, stripe, operation, caller, do)
        except TransientStripeError as e:
            print(
                f"billing-ledger: {e.message}; run again with --idempotency-key {key}",
                file=sys.stderr,
            )
            return 1
    print(json.dumps(outcome.answer(), indent=2))
    print(
        f"idempotency key: {key}" + (" (recorded answer)" if outcome.replayed else ""),
        file=sys.stderr,
    )
    return 0 if outcome.status < 400 else 1
