"""The Stripe Event envelope: what ingest and the log need from every event, whatever its type."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from billing_ledger.errors import BillingLedgerError


class MalformedEvent(BillingLedgerError):
    """A verified body that is not a Stripe event object. `reason` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EventData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    object: dict[str, Any]
    previous_attributes: dict[str, Any] | None = None


class StripeEvent(BaseModel):
    """A Stripe `event` object. `account` is None for the platform's own events."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    created: int
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
        """`account:livemode:customer-or-object id`: one customer's events stay in order."""
        obj = self.data.object
        customer = obj.get("customer") if obj.get("object") != "customer" else obj.get("id")
        owner = customer if isinstance(customer, str) else self.object_id or self.id
        return f"{self.account_id}:{str(self.livemode).lower()}:{owner}"


def parse_event(body: bytes) -> StripeEvent:
    """Parse a raw webhook body into its envelope, or raise MalformedEvent naming why."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedEvent("body is not valid JSON") from None
    if not isinstance(document, dict):
        raise MalformedEvent("body is not a JSON object")
    try:
        return StripeEvent.model_validate(document)
    except ValidationError as e:
        fields = sorted({".".join(str(p) for p in err["loc"]) for err in e.errors()})
        raise MalformedEvent(f"not a Stripe event: invalid {', '.join(fields)}") from None
