"""Which fields of Stripe's payloads are personal, and the *facts* of an event: the event with
every personal value replaced by a sealed token.

The one list of personal fields (the README's Privacy section repeats it, a test keeps the two
equal). A key is personal
- anywhere, at any depth, when it is in `PERSONAL_ANYWHERE` (contact details, addresses,
  shipping, billing details, names checked by banks, dispute evidence, ...);
- at the top level of a Stripe object of a kind in `PERSONAL_BY_KIND` (a customer's `name`,
  a tax id's `value`, a charge's `description`, ...) and in the event's `previous_attributes`
  of that object;
- in every `metadata`, except the keys in `ID_METADATA`, which the ledger reads as ids.
Every non-null scalar under a personal key is replaced; ids, amounts, currencies, statuses and
dates stay readable, so the processor needs no key: what it computes never depends on whether
a key still exists, and erasing one changes no amount, status or journal line.

A token is `pii1:` and the base64url of (data key id, 16 bytes; nonce, 12; AES-GCM ciphertext
of the value's JSON). Tokens are deterministic per (data key, field, value) — the nonce is a
MAC of them — so the ordering rules, which compare a snapshot's scalars with the next one's
`previous_attributes`, compare tokens exactly as they compared values. A value whose key is
destroyed (or that arrived for an already forgotten person) reads as `REDACTED`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

from billing_ledger.schemas.envelope import StripeEvent
from billing_ledger.schemas.objects import expandable_id

__all__ = [
    "ID_METADATA",
    "PERSONAL_ANYWHERE",
    "PERSONAL_BY_KIND",
    "REDACTED",
    "TOKEN_PREFIX",
    "SealValue",
    "data_subject",
    "facts_of",
    "linked_subjects",
    "is_token",
    "token_key_id",
    "tokens_in",
]

REDACTED = "[erased]"
TOKEN_PREFIX = "pii1:"

PERSONAL_ANYWHERE = frozenset(
    {
        "email",
        "phone",
        "address",
        "shipping",
        "shipping_details",
        "billing_address",
        "shipping_address",
        "billing_details",
        "customer_details",
        "collected_information",
        "receipt_email",
        "customer_email",
        "customer_name",
        "customer_address",
        "customer_phone",
        "customer_shipping",
        "customer_tax_ids",
        "custom_fields",
        "verified_name",
        "verified_address",
        "verified_email",
        "verified_phone",
        "cardholder_name",
        "account_holder_name",
        "payer_email",
        "payer_name",
        "instructions_email",
        "ip_address",
        "user_agent",
        "evidence",
        "individual",
        "masterpass",
        "visa_checkout",
    }
)
PERSONAL_BY_KIND: Mapping[str, frozenset[str]] = {
    "customer": frozenset(
        {"name", "description", "individual_name", "business_name", "sources", "tax"}
    ),
    "tax_id": frozenset({"value"}),
    "charge": frozenset({"description", "receipt_url", "source"}),
    "payment_intent": frozenset({"description"}),
    "invoice": frozenset({"description", "invoice_pdf", "hosted_invoice_url"}),
    "line_item": frozenset({"description"}),
    "invoiceitem": frozenset({"description"}),
    "subscription": frozenset({"description"}),
    "card": frozenset(
        {
            "name",
            "address_line1",
            "address_line2",
            "address_city",
            "address_state",
            "address_zip",
            "address_country",
        }
    ),
    "source": frozenset({"owner", "receiver"}),
    "person": frozenset(
        {
            "first_name",
            "last_name",
            "maiden_name",
            "full_name_aliases",
            "dob",
            "first_name_kana",
            "last_name_kana",
            "first_name_kanji",
            "last_name_kanji",
            "address_kana",
            "address_kanji",
            "registered_address",
            "nationality",
            "ssn_last_4",
            "political_exposure",
            "verification",
        }
    ),
}
ID_METADATA = frozenset({"user_id", "business_id"})

SealValue = Callable[[str, "str | int | float | bool"], str]
"""Seals one scalar found at a field path (relative to its Stripe object) into a token."""


def data_subject(event: StripeEvent) -> tuple[str | None, str]:
    """Whose data `event` is: the customer it names (a detached payment method names its
    former customer in `previous_attributes`), if any, and its owner (the object whose
    partition it is written to: a payment for charges, refunds and disputes, else the object
    or its customer). A record is sealed under its customer's key, or, for a payment that
    names no customer, under the customer it was linked to, else under its owner's own key."""
    obj = event.data.object
    customer: str | None
    if obj.get("object") == "customer":
        found = obj.get("id")
        customer = found if isinstance(found, str) else None
    else:
        customer = expandable_id(obj.get("customer"))
        if customer is None:
            previous = (event.data.previous_attributes or {}).get("customer")
            customer = previous if isinstance(previous, str) else None
    owner = event.partition_key.split(":", 2)[2]
    return customer, owner


def linked_subjects(event: StripeEvent) -> tuple[str, ...]:
    """Objects `event` shows to be its customer's although their own events name no customer:
    the mandate of a SetupIntent (a mandate names only its payment method, yet holds the IP
    address and browser its customer accepted it from). Their events are then sealed for that
    customer, and forgetting the customer forgets them."""
    obj = event.data.object
    if obj.get("object") != "setup_intent":
        return ()
    mandate = expandable_id(obj.get("mandate"))
    return (mandate,) if mandate is not None else ()


def facts_of(document: dict[str, Any], seal: SealValue) -> dict[str, Any]:
    """The event `document` with every personal value replaced by `seal(path, value)` (a token,
    or REDACTED for a person already forgotten). `document` itself is left as it was: the
    facts are a copy of what holds a personal value and share the rest with it."""
    return _walk(document, None, "", seal)


def _personal(kind: str | None) -> frozenset[str]:
    found = _PERSONAL.get(kind)
    if found is None:
        found = _PERSONAL[kind] = PERSONAL_ANYWHERE | PERSONAL_BY_KIND.get(kind or "", frozenset())
    return found


_PERSONAL: dict[str | None, frozenset[str]] = {}


# The walk visits every dict and list of every webhook (tens per event: most of what sealing
# costs), so it is written for speed: the personal keys of a node are found by one set
# operation, a node is copied only when something in it is sealed, and a path is only built
# for a container that is walked.
def _walk(
    node: dict[str, Any], kind_hint: str | None, path: str, seal: SealValue
) -> dict[str, Any]:
    kind = node.get("object")
    if type(kind) is str:
        path = kind  # paths are relative to the Stripe object, so equal fields seal equally
    else:
        kind = kind_hint
    personal = _PERSONAL.get(kind) or _personal(kind)
    changed: dict[str, Any] | None = None
    if not personal.isdisjoint(node):
        for key in personal.intersection(node):
            value = node[key]
            if value is not None:
                if changed is None:
                    changed = node.copy()
                changed[key] = _seal_all(value, f"{path}.{key}", seal)
    for key, value in node.items():
        if type(value) is dict:
            if key in personal:
                continue
            walked: dict[str, Any] | list[Any]
            if key == "metadata":
                walked = _metadata(value, path, seal)
            elif key == "previous_attributes" and type(inner := node.get("object")) is dict:
                # The changed fields of `data.object`: sealed as that object's own fields.
                changed_kind = inner.get("object")
                if type(changed_kind) is str:
                    walked = _walk(value, changed_kind, changed_kind, seal)
                else:
                    walked = _walk(value, None, f"{path}.{key}", seal)
            else:
                walked = _walk(value, None, f"{path}.{key}", seal)
        elif type(value) is list and key not in personal:
            walked = _walk_list(value, f"{path}.{key}", seal)
        else:
            continue
        if walked is not value:
            if changed is None:
                changed = node.copy()
            changed[key] = walked
    return node if changed is None else changed


def _walk_list(items: list[Any], path: str, seal: SealValue) -> list[Any]:
    changed: list[Any] | None = None
    for index, item in enumerate(items):
        if type(item) is dict:
            walked: Any = _walk(item, None, path, seal)
        elif type(item) is list:
            walked = _walk_list(item, path, seal)
        else:
            continue
        if walked is not item:
            if changed is None:
                changed = items.copy()
            changed[index] = walked
    return items if changed is None else changed


def _metadata(metadata: dict[str, Any], path: str, seal: SealValue) -> dict[str, Any]:
    """Every value of a `metadata` sealed, but the ids the ledger reads (ID_METADATA)."""
    sealed = {
        name: _seal_all(value, f"{path}.metadata.{name}", seal)
        for name, value in metadata.items()
        if name not in ID_METADATA and value is not None
    }
    return {**metadata, **sealed} if sealed else metadata


def _seal_all(value: Any, path: str, seal: SealValue) -> Any:
    if value is None:
        return None
    if type(value) is dict:
        return {k: _seal_all(v, f"{path}.{k}", seal) for k, v in value.items()}
    if type(value) is list:
        return [_seal_all(item, path, seal) for item in value]
    return seal(path, value)


def is_token(value: object) -> bool:
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX)


def token_key_id(token: str) -> UUID | None:
    """The id of the data key that sealed `token` (None if it is not a well-formed token)."""
    try:
        raw = base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :])
    except (binascii.Error, ValueError):
        return None
    return UUID(bytes=raw[:16]) if len(raw) > 16 + 12 + 16 else None


def tokens_in(values: Iterable[object]) -> Iterable[str]:
    """Every token in `values`, looking into dicts and lists."""
    for value in values:
        if isinstance(value, str):
            if value.startswith(TOKEN_PREFIX):
                yield value
        elif isinstance(value, dict):
            yield from tokens_in(value.values())
        elif isinstance(value, list):
            yield from tokens_in(value)
