"""The Payment Service: one-off charges, paying open invoices again, refunds, through Stripe.

Every method is a command (`commands.CommandRecord.run`): exactly once per idempotency key,
recorded. What they cause reaches `billing.payment_transactions`, `billing.refunds`,
`billing.invoices` and the journal through Stripe's webhooks only.
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
    mandate_data,
    page_links,
    payment_outcome,
    with_secrets,
)
from billing_ledger.stripe_api.requests import InvoicePayment, NewPayment, NewRefund


class PaymentService:
    def __init__(self, commands: CommandRecord, links: PageLinks | str) -> None:
        self._commands = commands
        self._links = page_links(links)

    def pay(self, caller: Caller, request: NewPayment) -> Outcome:
        """Create a PaymentIntent, then confirm it with our payment page as its return URL
        (two Stripe requests, two derived keys: a retry after either sends the same ones).
        Without a payment method it is only created: the customer pays on the payment page."""

        def execute(steps: Steps) -> Outcome:
            params: dict[str, Any] = {
                "amount": request.amount,
                "currency": request.currency,
                "customer": request.customer,
            }
            if request.payment_method is not None:
                params["payment_method"] = request.payment_method
            else:  # the payment page's Payment Element offers what the intent allows
                params["automatic_payment_methods"] = {"enabled": True}
            if request.description is not None:
                params["description"] = request.description
            intent = steps.call("create", "payment_intents", "create", params=params).object
            if request.payment_method is None:
                return payment_outcome(intent, self._links, caller.account)
            return_url = confirmation_url(self._links, intent, caller.account)
            confirm: dict[str, Any] = {"return_url": return_url}
            if request.mandate is not None:
                confirm["mandate_data"] = mandate_data(request.mandate)
            try:
                confirmed = steps.call(
                    "confirm", "payment_intents", "confirm", id=intent["id"], params=confirm
                ).object
            except CardDeclined as e:
                body = {
                    "id": e.payment_intent or intent["id"],
                    "object": "payment_intent",
                    "amount": request.amount,
                    "currency": request.currency,
                    "customer": request.customer,
                    "payment_method": id_of(intent.get("payment_method")),
                }
                return failed_payment(body, e.message, e.code, e.decline_code)
            return payment_outcome(confirmed, self._links, caller.account)

        def replay(steps: Steps, recorded: Outcome) -> Outcome:
            return with_secrets(steps, "payment_intents", recorded, self._links)

        return self._commands.run(caller, "payments.create", dump(request), execute, replay)

    def pay_invoice(self, caller: Caller, invoice_id: str, request: InvoicePayment) -> Outcome:
        """Attempt an open invoice's payment again, with the same or another payment method."""

        def execute(steps: Steps) -> Outcome:
            params: dict[str, Any] = {}
            if request.payment_method is not None:
                params["payment_method"] = request.payment_method
            try:
                invoice = steps.call("pay", "invoices", "pay", id=invoice_id, params=params).object
            except CardDeclined as e:
                body = {"id": invoice_id, "object": "invoice", "payment_intent": e.payment_intent}
                return failed_payment(body, e.message, e.code, e.decline_code)
            return Outcome(
                200 if invoice.get("status") == "paid" else 202,
                {
                    "id": invoice["id"],
                    "object": "invoice",
                    "status": invoice.get("status"),
                    "amount_paid": invoice.get("amount_paid"),
                    "amount_remaining": invoice.get("amount_remaining"),
                    "currency": invoice.get("currency"),
                },
            )

        body = {"invoice": invoice_id, **dump(request)}
        return self._commands.run(caller, "invoices.pay", body, execute)

    def refund(self, caller: Caller, payment_intent_id: str, request: NewRefund) -> Outcome:
        """Refund all of a payment, or `amount` of it."""

        def execute(steps: Steps) -> Outcome:
            params: dict[str, Any] = {"payment_intent": payment_intent_id}
            if request.amount is not None:
                params["amount"] = request.amount
            refund = steps.call("refund", "refunds", "create", params=params).object
            return Outcome(
                201,
                {
                    "id": refund["id"],
                    "object": "refund",
                    "status": refund.get("status"),
                    "amount": refund.get("amount"),
                    "currency": refund.get("currency"),
                    "payment_intent": id_of(refund.get("payment_intent")),
                },
            )

        body = {"payment_intent": payment_intent_id, **dump(request)}
        return self._commands.run(caller, "refunds.create", body, execute)
