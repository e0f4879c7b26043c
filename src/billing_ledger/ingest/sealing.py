"""Sealing a verified webhook before it is stored: what the log keeps of an event is its facts
(the event with personal values replaced by tokens, schemas/personal.py) and its raw body
sealed under its data subject's key; never the personal values in the clear.

For a person already forgotten (their key erased) the facts carry REDACTED in place of every
personal value and no sealed body: later deliveries, backfills or Stripe's own
`customer.deleted` never bring them back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool

from billing_ledger.eventlog.port import EventRecord
from billing_ledger.infra.data_key import DataKey
from billing_ledger.infra.keys import KeyStore
from billing_ledger.schemas import fastjson
from billing_ledger.schemas.envelope import MalformedEvent, StripeEvent, event_of, parse_document
from billing_ledger.schemas.personal import REDACTED, data_subject, facts_of, linked_subjects

__all__ = ["SealedEvent", "Sealer"]


@dataclass(frozen=True)
class SealedEvent:
    """What the log stores of one verified body."""

    facts: bytes  # JSON
    sealed: bytes | None  # the raw body under the subject's key; None: the person is forgotten
    subject: str  # whose key: a customer id, or a payment's own id when it names no customer


class Sealer:
    """Seals events under the keys of `keys`. Thread-safe."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    def seal(
        self, event: StripeEvent, body: bytes, document: dict[str, Any] | None = None
    ) -> SealedEvent:
        """`body` (verified, parsed as `event`) sealed; may create the subject's key, and link
        to its customer what the event shows to be theirs (`linked_subjects`). `document` is
        the body as `parse_document` read it, when the caller has it (it is not changed)."""
        customer, owner = data_subject(event)
        if customer is not None:
            for linked in linked_subjects(event):
                self._keys.link(event.account_id, event.livemode, linked, customer)
        subject, key = self._keys.subject_key(event.account_id, event.livemode, customer, owner)
        return _sealed(event, body, subject, key, document)

    def seal_record(self, record: EventRecord) -> EventRecord:
        """A record written before sealing, sealed as ingest would have sealed it (which
        secret verified it was not recorded then: `verified_with` stays None). A body that is
        not an event, which ingest never logged, is left as it is."""
        try:
            document = parse_document(record.body)
            event = event_of(document)
        except MalformedEvent:
            return record
        sealed = self.seal(event, record.body, document)
        return replace(record, body=sealed.facts, sealed=sealed.sealed, data_subject=sealed.subject)

    async def seal_async(
        self, event: StripeEvent, body: bytes, document: dict[str, Any] | None = None
    ) -> SealedEvent:
        """`seal` on the event loop when the key is in memory, else in a worker thread."""
        customer, owner = data_subject(event)
        cached = self._keys.cached_subject_key(event.account_id, event.livemode, customer, owner)
        linked = linked_subjects(event) if customer is not None else ()
        if customer is not None and linked:
            if not self._keys.links_known(event.account_id, event.livemode, linked, customer):
                cached = None  # a link to record: the database is needed
        if cached is None:
            return await run_in_threadpool(self.seal, event, body, document)
        return _sealed(event, body, *cached, document)


def _sealed(
    event: StripeEvent,
    body: bytes,
    subject: str,
    key: DataKey | None,
    document: dict[str, Any] | None,
) -> SealedEvent:
    if document is None:
        document = fastjson.loads(body)
    if key is None:
        return SealedEvent(
            _dumps(facts_of(document, lambda _path, _value: REDACTED)), None, subject
        )
    facts = facts_of(document, key.seal_value)
    return SealedEvent(_dumps(facts), key.seal_body(body, event.id), subject)


def _dumps(document: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(document)
    except orjson.JSONEncodeError:  # an integer past 64 bits: the standard library writes it
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
