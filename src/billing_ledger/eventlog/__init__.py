"""The log of record: one port (`EventLog`) and three adapters: Postgres, Kafka, in memory."""

from __future__ import annotations

from billing_ledger.eventlog.port import (
    EventLog,
    EventRecord,
    LogError,
    LoggedEvent,
    LogUnavailable,
)

__all__ = ["EventLog", "EventRecord", "LogError", "LogUnavailable", "LoggedEvent"]
