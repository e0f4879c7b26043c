"""The Stripe Event envelope: what ingest and the log need from every event, whatever its type."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from billing_ledger.errors import BillingLedgerError
from billing_ledger.schemas import fastjson


class MalformedEvent(BillingLedgerError):
    """A verified body that is not a Stripe event object. `reason` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


MAX_EPOCH_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z: what a timestamp can hold


class EventData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    object: dict[str, Any]
    previous_attributes: dict[str, Any] | None = None


class StripeEvent(BaseModel):
    """A Stripe `event` object. `account` is None for the platform's own events."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    created: int = Field(ge=0, le=MAX_EPOCH_SECONDS)
    livemode: bool
    api_version: str | None = None
    account: str | None = None
    data: EventData

    @property
    def account_id(self) -> str:
        """The Connect account id, `''` for the platform (never None: it is part of identities)."""
        return self.account or ""

    @property
    def object_id(self) -> str | None:
        value = self.data.object.get("id")
        return value if isinstance(value, str) else None

    @property
    def partition_key(self) -> str:
        """`account:livemode:owner`: the owner is the object whose aggregate the event changes
        (a payment intent for its charges, refunds, disputes and invoice links; the customer for
        what a customer owns), so each aggregate is written from one Kafka partition only and
        its events stay in order there."""
        obj = self.data.object
        kind = obj.get("object")
        target = obj.get("payment")
        payment: dict[str, Any] = target if isinstance(target, dict) else {}
        if kind in ("customer", "payment_intent"):
            candidates = [obj.get("id")]
        elif kind == "charge":
            candidates = [obj.get("payment_intent"), obj.get("id")]
        elif kind in ("refund", "dispute"):
            candidates = [obj.get("payment_intent"), obj.get("charge")]
        elif kind == "invoice_payment":
            candidates = [payment.get("payment_intent"), payment.get("charge")]
        else:
            candidates = [obj.get("customer")]
        owner = next((c for c in candidates if isinstance(c, str)), None) or self.object_id
        return f"{self.account_id}:{str(self.livemode).lower()}:{owner or self.id}"


def parse_event(body: bytes) -> StripeEvent:
    """Parse a raw webhook body into its envelope, or raise MalformedEvent naming why."""
    return event_of(parse_document(body))


def parse_document(body: bytes) -> dict[str, Any]:
    """A raw webhook body as the JSON object it must be (not yet known to be an event), or
    raise MalformedEvent naming why."""
    try:
        document = fastjson.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors;
        # so are integers past Python's digit limit; deep nesting recurses
        raise MalformedEvent("body is not valid JSON") from None
    if not isinstance(document, dict):
        raise MalformedEvent("body is not a JSON object")
    return document


def event_of(document: dict[str, Any]) -> StripeEvent:
    """The envelope of a parsed body (`parse_document`), or raise MalformedEvent naming why.
    The event shares its values with `document`: neither may be changed."""
    try:
        return StripeEvent.model_validate(document)
    except ValidationError as e:
        fields = sorted({".".join(str(p) for p in err["loc"]) for err in e.errors()})
        raise MalformedEvent(f"not a Stripe event: invalid {', '.join(fields)}") from None
