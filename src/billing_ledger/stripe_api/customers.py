"""The Customer Service: customers, and the payment methods they save, through Stripe.

Every method is a command (`commands.CommandRecord.run`): exactly once per idempotency key,
recorded. Answers hold ids and statuses; what they change reaches `billing.stripe_customers`
and `billing.payment_methods` through Stripe's webhooks only.
"""

from __future__ import annotations

from typing import Any

from billing_ledger.stripe_api.commands import Caller, CommandRecord, Outcome, Steps
from billing_ledger.stripe_api.errors import CardDeclined
from billing_ledger.stripe_api.intents import (
    PageLinks,
    confirmation_url,
    dump,
    failed_payment,
    id_of,
    intent_secrets,
    mandate_data,
    page_links,
    with_secrets,
)
from billing_ledger.stripe_api.requests import (
    Address,
    CustomerChanges,
    MicrodepositVerification,
    NewCustomer,
    NewSetup,
    PaymentMethodChoice,
)


class CustomerService:
    def __init__(self, commands: CommandRecord, links: PageLinks | str) -> None:
        self._commands = commands
        self._links = page_links(links)

    def create(self, caller: Caller, request: NewCustomer) -> Outcome:
        """Create the customer; attach `payment_method` and make it the default, if given."""

        def execute(steps: Steps) -> Outcome:
            params: dict[str, Any] = {"email": request.email}
            if request.name is not None:
                params["name"] = request.name
            if request.address is not None:
                params["address"] = _address(request.address)
            if request.tax_id is not None:
                params["tax_id_data"] = [request.tax_id.model_dump()]
            if request.user_id is not None:
                params["metadata"] = {"user_id": request.user_id}
            if request.test_clock is not None:
                params["test_clock"] = request.test_clock
            customer = steps.call("create", "customers", "create", params=params).object
            default = None
            if request.payment_method is not None:
                default = _attach(steps, customer["id"], request.payment_method, default=True)
            return Outcome(201, _customer(customer, default))

        return self._commands.run(caller, "customers.create", dump(request), execute)

    def update(self, caller: Caller, customer_id: str, changes: CustomerChanges) -> Outcome:
        def execute(steps: Steps) -> Outcome:
            params: dict[str, Any] = {}
            if changes.email is not None:
                params["email"] = changes.email
            if changes.name is not None:
                params["name"] = changes.name
            if changes.address is not None:
                params["address"] = _address(changes.address)
            if changes.user_id is not None:
                params["metadata"] = {"user_id": changes.user_id}
            customer = steps.call(
                "update", "customers", "update", id=customer_id, params=params
            ).object
            return Outcome(200, _customer(customer, _default_method(customer)))

        body = {"customer": customer_id, **dump(changes)}
        return self._commands.run(caller, "customers.update", body, execute)

    def delete(self, caller: Caller, customer_id: str) -> Outcome:
        """Delete the customer at Stripe for good (the erasure's last step, `forget
        --also-stripe`). Stripe's `customer.deleted` marks the row deleted; a customer Stripe
        no longer has is its 404, recorded like any final answer."""

        def execute(steps: Steps) -> Outcome:
            gone = steps.call("delete", "customers", "delete", id=customer_id).object
            return Outcome(
                200, {"id": gone["id"], "object": "customer", "deleted": bool(gone.get("deleted"))}
            )

        return self._commands.run(caller, "customers.delete", {"customer": customer_id}, execute)

    def save_payment_method(self, caller: Caller, customer_id: str, request: NewSetup) -> Outcome:
        """A SetupIntent for later payments: created, then confirmed when a payment method is
        given (card; SEPA debit with the customer's mandate; ACH with its verification)."""

        def execute(steps: Steps) -> Outcome:
            params: dict[str, Any] = {
                "customer": customer_id,
                "payment_method_types": [request.type],
                "usage": "off_session",
            }
            if request.verification_method is not None:
                params["payment_method_options"] = {
                    "us_bank_account": {"verification_method": request.verification_method}
                }
            setup = steps.call("create", "setup_intents", "create", params=params).object
            if request.payment_method is not None:
                confirm: dict[str, Any] = {
                    "payment_method": request.payment_method,
                    "return_url": confirmation_url(self._links, setup, caller.account),
                }
                if request.mandate is not None:
                    confirm["mandate_data"] = mandate_data(request.mandate)
                try:
                    setup = steps.call(
                        "confirm", "setup_intents", "confirm", id=setup["id"], params=confirm
                    ).object
                except CardDeclined as e:
                    return _failed_setup(setup, customer_id, e)
            return _setup_outcome(setup, self._links, caller.account)

        def replay(steps: Steps, recorded: Outcome) -> Outcome:
            return with_secrets(steps, "setup_intents", recorded, self._links)

        body = {"customer": customer_id, **dump(request)}
        return self._commands.run(caller, "setup_intents.create", body, execute, replay)

    def verify_microdeposits(
        self, caller: Caller, setup_intent_id: str, request: MicrodepositVerification
    ) -> Outcome:
        """Finish an ACH SetupIntent waiting for `verify_with_microdeposits`; a mismatch is
        Stripe's 422 with its code (`…_amounts_mismatch`, `…_attempts_exceeded`)."""

        def execute(steps: Steps) -> Outcome:
            params: dict[str, Any] = (
                {"amounts": list(request.amounts)}
                if request.amounts is not None
                else {"descriptor_code": request.descriptor_code}
            )
            setup = steps.call(
                "verify",
                "setup_intents",
                "verify_microdeposits",
                id=setup_intent_id,
                params=params,
            ).object
            return _setup_outcome(setup, self._links, caller.account)

        body = {"setup_intent": setup_intent_id, **dump(request)}
        return self._commands.run(caller, "setup_intents.verify_microdeposits", body, execute)

    def attach_payment_method(
        self, caller: Caller, customer_id: str, choice: PaymentMethodChoice
    ) -> Outcome:
        def execute(steps: Steps) -> Outcome:
            method = _attach(steps, customer_id, choice.payment_method, default=choice.default)
            return Outcome(
                200,
                {
                    "id": method,
                    "object": "payment_method",
                    "customer": customer_id,
                    "default": choice.default,
                },
            )

        body = {"customer": customer_id, **dump(choice)}
        return self._commands.run(caller, "payment_methods.attach", body, execute)

    def detach_payment_method(self, caller: Caller, payment_method_id: str) -> Outcome:
        def execute(steps: Steps) -> Outcome:
            method = steps.call("detach", "payment_methods", "detach", id=payment_method_id)
            return Outcome(
                200, {"id": method.object["id"], "object": "payment_method", "customer": None}
            )

        body = {"payment_method": payment_method_id}
        return self._commands.run(caller, "payment_methods.detach", body, execute)

    def set_default_payment_method(
        self, caller: Caller, customer_id: str, payment_method_id: str
    ) -> Outcome:
        def execute(steps: Steps) -> Outcome:
            customer = steps.call(
                "default",
                "customers",
                "update",
                id=customer_id,
                params={"invoice_settings": {"default_payment_method": payment_method_id}},
            ).object
            return Outcome(200, _customer(customer, _default_method(customer)))

        body = {"customer": customer_id, "payment_method": payment_method_id}
        return self._commands.run(caller, "customers.default_payment_method", body, execute)


def _attach(steps: Steps, customer_id: str, payment_method: str, *, default: bool) -> str:
    """Attach (Stripe answers a test token such as pm_card_visa with a new id); default it."""
    attached = steps.call(
        "attach", "payment_methods", "attach", id=payment_method, params={"customer": customer_id}
    ).object
    method_id = str(attached["id"])
    if default:
        steps.call(
            "default",
            "customers",
            "update",
            id=customer_id,
            params={"invoice_settings": {"default_payment_method": method_id}},
        )
    return method_id


def _setup_outcome(setup: dict[str, Any], links: PageLinks, account: str) -> Outcome:
    """`succeeded` (201), or not yet (202): `requires_action` says which action in
    `next_action_type` — `redirect_to_url` (3-D Secure, completed on the payment page our
    `confirmation_url` opens) or `verify_with_microdeposits` (ACH: then
    `verify_microdeposits`). A setup still without a payment method is completed on that page
    too."""
    body: dict[str, Any] = {
        "id": setup["id"],
        "object": "setup_intent",
        "status": setup.get("status"),
        "customer": id_of(setup.get("customer")),
        "payment_method": id_of(setup.get("payment_method")),
        "mandate": id_of(setup.get("mandate")),
    }
    action = None
    if setup.get("status") == "requires_action":
        action = (setup.get("next_action") or {}).get("type")
        body["next_action_type"] = action
    on_page = action == "redirect_to_url" or setup.get("status") == "requires_payment_method"
    status = 201 if setup.get("status") == "succeeded" else 202
    return Outcome(status, body, private=intent_secrets(setup, links if on_page else None, account))


def _failed_setup(setup: dict[str, Any], customer_id: str, error: CardDeclined) -> Outcome:
    body = {"id": setup["id"], "object": "setup_intent", "customer": customer_id}
    return failed_payment(body, error.message, error.code, error.decline_code)


def _customer(customer: dict[str, Any], default: str | None) -> dict[str, Any]:
    return {
        "id": customer["id"],
        "object": "customer",
        "livemode": customer.get("livemode"),
        "default_payment_method": default,
    }


def _default_method(customer: dict[str, Any]) -> str | None:
    settings = customer.get("invoice_settings") or {}
    return id_of(settings.get("default_payment_method"))


def _address(address: Address) -> dict[str, str]:
    return {k: v for k, v in address.model_dump().items() if v is not None}
