"""The Subscription Manager: start, change, preview, pause, cancel and resume subscriptions.

Every method is a command (`commands.CommandRecord.run`): exactly once per idempotency key,
recorded, each Stripe request under its derived key. None writes a projection: the
subscription's rows, its invoices and its MRR change only when Stripe's webhooks arrive.

Creation uses `payment_behavior=default_incomplete`: Stripe creates the subscription and its
first invoice, and leaves that invoice's PaymentIntent to be confirmed. We confirm it with the
payment method given (or the customer's default); the answer is then exactly one of
- `active` or `trialing` (201): the first invoice is paid, or nothing is due yet;
- `incomplete` with `payment.status` `requires_action` (202): 3-D Secure; `client_secret`,
  `next_action` and our `confirmation_url` come with it (the secret from the invoice's
  `confirmation_secret` in current API versions), never a failure;
- `incomplete` with `payment.status` `requires_payment_method` (202): no payment method yet;
  the customer pays at `confirmation_url`;
- a declined card (402) with Stripe's `code`, `decline_code` and message.
"""

from __future__ import annotations

from typing import Any

from billing_ledger.stripe_api.commands import Caller, CommandRecord, Outcome, Steps
from billing_ledger.stripe_api.errors import CardDeclined
from billing_ledger.stripe_api.intents import (
    PageLinks,
    confirmation_url,
    dump,
    id_of,
    intent_secrets,
    page_links,
)
from billing_ledger.stripe_api.subscription_requests import (
    Cancellation,
    CollectionPause,
    NewSubscription,
    SubscriptionChange,
    TrialChange,
)
from billing_ledger.stripe_api.subscription_rules import (
    ChangeNotPossible,
    change_items,
    created_params,
    preview_answer,
    subscription_answer,
)

EXPAND = ["latest_invoice.payments", "latest_invoice.confirmation_secret"]
WAITING = ("requires_action", "requires_payment_method")


class SubscriptionService:
    def __init__(self, commands: CommandRecord, links: PageLinks | str) -> None:
        self._commands = commands
        self._links = page_links(links)

    def create(self, caller: Caller, request: NewSubscription) -> Outcome:
        def execute(steps: Steps) -> Outcome:
            method = None
            if request.payment_method is not None:
                method = steps.call(
                    "attach",
                    "payment_methods",
                    "attach",
                    id=request.payment_method,
                    params={"customer": request.customer},
                ).object["id"]
            params = {**created_params(request, method), "expand": EXPAND}
            sub = steps.call("create", "subscriptions", "create", params=params).object
            return self._first_payment(steps, sub, method)

        def replay(steps: Steps, recorded: Outcome) -> Outcome:
            return self._with_secrets(steps, recorded)

        return self._commands.run(caller, "subscriptions.create", dump(request), execute, replay)

    def change(self, caller: Caller, sub_id: str, change: SubscriptionChange) -> Outcome:
        def execute(steps: Steps) -> Outcome:
            sub = steps.read("subscriptions", sub_id).object
            try:
                params = _change_details(sub, change)
            except ChangeNotPossible as e:
                return _refused(sub, str(e))
            updated = steps.call(
                "update", "subscriptions", "update", id=sub_id, params=params
            ).object
            return Outcome(200, subscription_answer(updated))

        body = {"subscription": sub_id, **dump(change)}
        return self._commands.run(caller, "subscriptions.change", body, execute)

    def preview(self, caller: Caller, sub_id: str, change: SubscriptionChange) -> Outcome:
        """What the change would invoice, without making it (`POST /v1/invoices/create_preview`)."""

        def execute(steps: Steps) -> Outcome:
            sub = steps.read("subscriptions", sub_id).object
            try:
                details = _change_details(sub, change)
            except ChangeNotPossible as e:
                return _refused(sub, str(e))
            params = {
                "customer": id_of(sub.get("customer")),
                "subscription": sub_id,
                "subscription_details": details,
            }
            invoice = steps.call("preview", "invoices", "create_preview", params=params).object
            return Outcome(200, preview_answer(sub_id, invoice, change))

        body = {"subscription": sub_id, **dump(change)}
        return self._commands.run(caller, "subscriptions.preview", body, execute)

    def cancel(self, caller: Caller, sub_id: str, cancellation: Cancellation) -> Outcome:
        """Now (Stripe's cancel), at the period's end, or at a time (both can be resumed)."""

        def execute(steps: Steps) -> Outcome:
            if cancellation.at_period_end:
                params: dict[str, Any] = {"cancel_at_period_end": True}
            elif cancellation.at is not None:
                params = {"cancel_at": cancellation.at}
            else:
                ended = steps.call("cancel", "subscriptions", "cancel", id=sub_id).object
                return Outcome(200, subscription_answer(ended))
            sub = steps.call("cancel", "subscriptions", "update", id=sub_id, params=params)
            return Outcome(200, subscription_answer(sub.object))

        body = {"subscription": sub_id, **dump(cancellation)}
        return self._commands.run(caller, "subscriptions.cancel", body, execute)

    def resume(self, caller: Caller, sub_id: str) -> Outcome:
        """Undo a pending cancellation (at period end, or at a time); or resume a `paused`
        subscription (a trial that ended without a payment method): a new period starts now,
        invoiced and charged (Stripe's `/resume`)."""

        def execute(steps: Steps) -> Outcome:
            sub = steps.read("subscriptions", sub_id).object
            if sub.get("status") in ("canceled", "incomplete_expired"):
                return _refused(sub, "this subscription has ended; start a new one instead")
            if sub.get("status") == "paused":
                resumed = steps.call(
                    "resume",
                    "subscriptions",
                    "resume",
                    id=sub_id,
                    params={"billing_cycle_anchor": "now"},
                )
                return Outcome(200, subscription_answer(resumed.object))
            if sub.get("cancel_at_period_end"):
                params: dict[str, Any] = {"cancel_at_period_end": False}
            elif sub.get("cancel_at") is not None:
                params = {"cancel_at": ""}
            else:
                return _refused(sub, "this subscription has no pending cancellation to undo")
            resumed = steps.call("resume", "subscriptions", "update", id=sub_id, params=params)
            return Outcome(200, subscription_answer(resumed.object))

        return self._commands.run(caller, "subscriptions.resume", {"subscription": sub_id}, execute)

    def pause(self, caller: Caller, sub_id: str, pause: CollectionPause) -> Outcome:
        def execute(steps: Steps) -> Outcome:
            collection: dict[str, Any] = {"behavior": pause.behavior}
            if pause.resumes_at is not None:
                collection["resumes_at"] = pause.resumes_at
            sub = steps.call(
                "pause",
                "subscriptions",
                "update",
                id=sub_id,
                params={"pause_collection": collection},
            )
            return Outcome(200, subscription_answer(sub.object))

        body = {"subscription": sub_id, **dump(pause)}
        return self._commands.run(caller, "subscriptions.pause", body, execute)

    def resume_collection(self, caller: Caller, sub_id: str) -> Outcome:
        def execute(steps: Steps) -> Outcome:
            sub = steps.call(
                "unpause", "subscriptions", "update", id=sub_id, params={"pause_collection": ""}
            )
            return Outcome(200, subscription_answer(sub.object))

        body = {"subscription": sub_id}
        return self._commands.run(caller, "subscriptions.resume_collection", body, execute)

    def change_trial(self, caller: Caller, sub_id: str, trial: TrialChange) -> Outcome:
        """Extend the trial to `trial_end`, or end it `now` (the first period is invoiced)."""

        def execute(steps: Steps) -> Outcome:
            params = {"trial_end": trial.trial_end, "proration_behavior": "none"}
            sub = steps.call("trial", "subscriptions", "update", id=sub_id, params=params)
            return Outcome(200, subscription_answer(sub.object))

        body = {"subscription": sub_id, **dump(trial)}
        return self._commands.run(caller, "subscriptions.trial", body, execute)

    def _first_payment(self, steps: Steps, sub: dict[str, Any], method: str | None) -> Outcome:
        """Confirm the first invoice's PaymentIntent, if there is one and a way to pay it."""
        invoice = sub.get("latest_invoice")
        intent_id = invoice_intent(invoice)
        if sub.get("status") != "incomplete" or intent_id is None:
            return Outcome(201, subscription_answer(sub))
        intent = steps.read("payment_intents", intent_id).object
        if method is None and intent.get("payment_method") is None:
            method = _default_method(steps, sub)  # Stripe may leave the intent without one
        if method is None and intent.get("payment_method") is None:
            return self._waiting(steps, sub, intent)
        account = steps.caller.account
        confirm: dict[str, Any] = {"return_url": confirmation_url(self._links, intent, account)}
        if method is not None:
            confirm["payment_method"] = method
        try:
            intent = steps.call(
                "confirm", "payment_intents", "confirm", id=intent_id, params=confirm
            ).object
        except CardDeclined as e:
            body = {
                **subscription_answer(sub),
                "payment": {"id": intent_id, "status": "failed"},
                "error": e.message,
                "code": e.code,
                "decline_code": e.decline_code,
            }
            return Outcome(402, body)
        if intent.get("status") in WAITING:
            return self._waiting(steps, sub, intent)
        now = steps.read("subscriptions", str(sub["id"])).object
        body = {**subscription_answer(now), "payment": _payment(intent)}
        return Outcome(201 if now.get("status") in ("active", "trialing") else 202, body)

    def _waiting(self, steps: Steps, sub: dict[str, Any], intent: dict[str, Any]) -> Outcome:
        """Incomplete until the customer pays at `confirmation_url` (answered, not recorded:
        a signed link)."""
        body = {**subscription_answer(sub), "payment": _payment(intent)}
        secrets = intent_secrets(intent, self._links, steps.caller.account)
        return Outcome(202, body, private=secrets)

    def _with_secrets(self, steps: Steps, recorded: Outcome) -> Outcome:
        """A repeated key's answer, with the client secret the record never holds re-read."""
        payment = recorded.body.get("payment") or {}
        if payment.get("status") not in WAITING:
            return recorded
        intent = steps.read("payment_intents", str(payment["id"])).object
        return Outcome(
            recorded.status,
            recorded.body,
            replayed=True,
            command_id=recorded.command_id,
            private=intent_secrets(intent, self._links, steps.caller.account),
        )


def _change_details(sub: dict[str, Any], change: SubscriptionChange) -> dict[str, Any]:
    """`change` as Stripe's subscription details: the items and the proration (raises
    ChangeNotPossible when the items cannot change so)."""
    details: dict[str, Any] = {
        "items": change_items(sub, change),
        "proration_behavior": change.proration_behavior,
    }
    if change.proration_date is not None:
        details["proration_date"] = change.proration_date
    return details


def invoice_intent(invoice: Any) -> str | None:
    """The PaymentIntent of an expanded invoice: its `payments` (current API versions), its
    `confirmation_secret`, or the `payment_intent` older versions had."""
    if not isinstance(invoice, dict):
        return None
    for paid in (invoice.get("payments") or {}).get("data") or []:
        found = id_of((paid.get("payment") or {}).get("payment_intent"))
        if found:
            return found
    secret = (invoice.get("confirmation_secret") or {}).get("client_secret")
    if isinstance(secret, str) and "_secret_" in secret:
        return secret.partition("_secret_")[0]
    return id_of(invoice.get("payment_intent"))


def _default_method(steps: Steps, sub: dict[str, Any]) -> str | None:
    """The subscription's default payment method, else its customer's."""
    own = id_of(sub.get("default_payment_method"))
    if own is not None:
        return own
    customer = steps.read("customers", str(id_of(sub.get("customer")))).object
    return id_of((customer.get("invoice_settings") or {}).get("default_payment_method"))


def _payment(intent: dict[str, Any]) -> dict[str, Any]:
    return {"id": intent["id"], "status": intent.get("status")}


def _refused(sub: dict[str, Any], reason: str) -> Outcome:
    return Outcome(422, {"id": sub["id"], "status": sub.get("status"), "error": reason})
