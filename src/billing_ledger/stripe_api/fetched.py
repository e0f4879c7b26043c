"""Appending what was fetched from Stripe's API to the log of record, as ingest appends a
webhook: sealed (facts beside the raw body under its subject's key), durably, but marked with
its source (`listed` or `fetched`) and verified by no secret: it was authenticated by our own
call with our key, never by a signature (invariant 11)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from billing_ledger.eventlog.port import SOURCES, WEBHOOK, EventLog, EventRecord
from billing_ledger.schemas.envelope import StripeEvent, parse_event

__all__ = ["Appender", "Sealed", "Sealing"]


class Sealed(Protocol):
    """What the log keeps of a body: its facts, the body sealed (None: the person is
    forgotten) and whose key sealed it."""

    @property
    def facts(self) -> bytes: ...

    @property
    def sealed(self) -> bytes | None: ...

    @property
    def subject(self) -> str: ...


class Sealing(Protocol):
    """What seals a body under its data subject's key (ingest/sealing.py's `Sealer`)."""

    def seal(self, event: StripeEvent, body: bytes) -> Sealed: ...


class Appender:
    """Appends fetched event documents to `log`, sealed by `sealing`, with `source`."""

    def __init__(
        self,
        log: EventLog,
        sealing: Sealing,
        source: str,
        clock: Callable[[], float] = lambda: datetime.now(UTC).timestamp(),
    ) -> None:
        if source == WEBHOOK or source not in SOURCES:
            raise ValueError(f"not a source of fetched records: {source}")
        self._log, self._sealing, self._source, self._clock = log, sealing, source, clock

    def append(self, document: Mapping[str, Any]) -> StripeEvent:
        """Append one event document; returns once it is durable (LogUnavailable if not)."""
        event, record = self._record(document)
        self._log.append(record)
        return event

    def append_all(self, documents: Sequence[Mapping[str, Any]]) -> list[StripeEvent]:
        """Append a page of documents at once (one group commit, not one per record); returns
        once every one is durable. If any could not be, LogUnavailable: the caller must treat
        the page as not stored (some may be: appending them again is absorbed downstream)."""
        read = [self._record(document) for document in documents]

        async def append() -> None:
            await asyncio.gather(*(self._log.append_async(record) for _, record in read))

        if read:
            asyncio.run(append())
        return [event for event, _ in read]

    def _record(self, document: Mapping[str, Any]) -> tuple[StripeEvent, EventRecord]:
        body = json.dumps(
            document, separators=(",", ":"), ensure_ascii=False, default=_as_stripe_wrote_it
        ).encode()
        event = parse_event(body)
        sealed = self._sealing.seal(event, body)
        return event, (
            EventRecord(
                body=sealed.facts,
                event_id=event.id,
                event_type=event.type,
                created=event.created,
                livemode=event.livemode,
                account=event.account_id,
                api_version=event.api_version,
                received_at=datetime.fromtimestamp(self._clock(), UTC),
                partition_key=event.partition_key,
                sealed=sealed.sealed,
                data_subject=sealed.subject,
                verified_with=None,
                source=self._source,
            )
        )


def _as_stripe_wrote_it(value: object) -> str:
    """The SDK reads Stripe's decimal strings (`unit_amount_decimal`) into Decimals; they go
    back as the strings Stripe sent (a Decimal keeps the digits it was read from)."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
