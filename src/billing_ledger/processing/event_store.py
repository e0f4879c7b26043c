"""The event store's infrastructure: eventsourcing's Postgres factory with a cheaper insert
and a faster JSON transcoder.

Same tables, same rows, same stored JSON as eventsourcing's `PostgresProcessRecorder` and
`JSONTranscoder`; only the work of getting there differs. Chosen by `PERSISTENCE_MODULE`
(database.eventsourcing_env), as eventsourcing intends.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import orjson
from eventsourcing.persistence import (
    InterfaceError,
    JSONTranscoder,
    OperationalError,
    StoredEvent,
    Tracking,
    Transcoder,
    Transcoding,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresDatastore,
    PostgresFactory,
    PostgresProcessRecorder,
)
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from billing_ledger.schemas import fastjson

__all__ = [
    "BillingAggregateRecorder",
    "BillingPostgresFactory",
    "BillingProcessRecorder",
    "OrjsonTranscoder",
]


def _insert_arrays(schema: str, table: str, id_type: str, returning: bool) -> SQL | Any:
    """INSERT of stored events given as four arrays in binary format (see below)."""
    return SQL(
        "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
        "SELECT * FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[])"
        + (" RETURNING notification_id" if returning else "")
    ).format(schema=Identifier(schema), table=Identifier(table), id_type=Identifier(id_type))


def _arrays(stored_events: Sequence[StoredEvent]) -> tuple[list[Any], ...]:
    return (
        [e.originator_id for e in stored_events],
        [e.originator_version for e in stored_events],
        [e.topic for e in stored_events],
        [e.state for e in stored_events],
    )


class BillingAggregateRecorder(PostgresAggregateRecorder):
    """The snapshot store's recorder: the same rows as its parent's, inserted as binary arrays
    (its parent escapes a text array of the composite type, slow for ~5 KB snapshots)."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self.insert_arrays_statement = _insert_arrays(
            self.datastore.schema,
            self.events_table_name,
            self.datastore.originator_id_type,
            returning=False,
        )

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        curs.execute(self.insert_arrays_statement, _arrays(stored_events), prepare=True)


class BillingProcessRecorder(PostgresProcessRecorder):
    """Writes domain events and their tracking record in one transaction, like its parent, but:

    - the events go as four arrays in binary format (ids, versions, topics, states) rather
      than one array of the composite type in text format, which psycopg escaped character by
      character and the server parsed back (most of the write's cost for ~2 KB states);
    - statements run one after another, not in psycopg's pipeline mode, which could hang for
      good on large inserts (client in `Pipeline.sync`, server in ClientRead: psycopg #685).

    Invariants kept from the parent: the table is locked (EXCLUSIVE) before the insert so that
    notification ids are issued in commit order; the channel is notified; a conflicting
    (originator_id, originator_version) or an already recorded tracking position raises
    eventsourcing's IntegrityError and nothing of the transaction is written.
    """

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
    ) -> None:
        super().__init__(
            datastore,
            events_table_name=events_table_name,
            tracking_table_name=tracking_table_name,
        )
        self.insert_arrays_statement = _insert_arrays(
            self.datastore.schema,
            self.events_table_name,
            self.datastore.originator_id_type,
            returning=True,
        )

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if self.datastore.enable_db_functions:
            ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return ids
        # get_connection() translates psycopg's errors into eventsourcing's.
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor() as curs:
                tracking: Tracking | None = kwargs.get("tracking")
                if tracking is not None:
                    self._insert_tracking(curs, tracking=tracking)
                if not stored_events:
                    return None
                self._insert_stored_events(curs, stored_events, **kwargs)
                return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self.insert_arrays_statement, _arrays(stored_events), prepare=True)


# Types orjson hands to `default` (so to their transcodings) with these options, as `json` does.
_PASSED_TO_DEFAULT = (Decimal, datetime, date, time)
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# orjson writes a uuid.UUID as its canonical string without asking `default`, and some floats
# other than `repr` does (1e-05 as 1e-5, 1.5e-05 as 0.000015): output with anything shaped like
# those (in a string too: a cheap, conservative test) is redone by `json`.
_UUID_SHAPED = re.compile(rb"-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-")
_SHORT_NEGATIVE_EXPONENT = re.compile(rb"e-[0-9](?![0-9])")
_SMALL_DECIMAL = b"0.0000"
_TYPE_KEY = b'"_type_"'  # a transcoded object's key, as any JSON encoder writes it


class OrjsonTranscoder(JSONTranscoder):
    """eventsourcing's JSONTranscoder, byte for byte, with orjson doing most of the work.

    `encode` gives exactly JSONTranscoder's bytes: orjson writes most things the same way
    (compact, UTF-8, keys in order, same escapes), registered transcodings are applied through
    `default`, and whatever orjson might write differently goes to the parent (UUID-shaped or
    small-float-shaped output, an integer past 64 bits, a non-string key, a type with a
    transcoding orjson would not ask for). One difference is not caught: a NaN or
    infinite float becomes `null` (the parent writes `NaN`, which is not JSON); no Stripe
    payload holds one.

    `decode` gives exactly the parent's objects: the document is read by fastjson.loads, and
    transcoded objects are revived as the parent's object hook would, stopping as soon as all
    of them have been found (the timestamp, at the top level, for our domain events).
    """

    def __init__(self) -> None:
        super().__init__()
        self._orjson_encodes = True

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        if transcoding.type is not uuid.UUID and not issubclass(
            transcoding.type, _PASSED_TO_DEFAULT
        ):
            self._orjson_encodes = False  # orjson may serialize it natively, unasked

    def encode(self, obj: Any) -> bytes:
        if self._orjson_encodes:
            try:
                data = orjson.dumps(obj, default=self._encode_obj, option=_ORJSON_OPTIONS)
            except orjson.JSONEncodeError:
                pass  # the parent raises its own error, or writes what orjson cannot
            else:
                if not _may_differ(data):
                    return data
        return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        document = fastjson.loads(data)
        expected = data.count(_TYPE_KEY)  # at least the number of transcoded objects
        return self._revive(document, expected) if expected else document

    def _revive(self, document: Any, expected: int) -> Any:
        """Transcoded objects replaced by their values, breadth first, until `expected` were
        replaced (or the whole document was walked: `expected` may overcount)."""
        if _is_transcoded(document):
            return self._revived(document)
        if _is_container(document):
            level = [document]
            while level and expected > 0:
                deeper: list[Any] = []
                for container in level:
                    pairs = container.items() if type(container) is dict else enumerate(container)
                    for key, value in pairs:
                        if type(value) is dict and _is_transcoded(value):
                            container[key] = self._revived(value)
                            expected -= 1
                        elif _is_container(value):
                            deeper.append(value)
                level = deeper
        return document

    def _revived(self, transcoded: dict[str, Any]) -> Any:
        # The parent's hook decodes inner objects first: do the same for container data.
        data = transcoded["_data_"]
        if _is_container(data):
            transcoded["_data_"] = self._revive(data, expected=1 << 62)
        return self._decode_obj(transcoded)


def _may_differ(data: bytes) -> bool:
    """Whether `json` might have written `data` otherwise (see above)."""
    return (
        _SMALL_DECIMAL in data
        or _UUID_SHAPED.search(data) is not None
        or _SHORT_NEGATIVE_EXPONENT.search(data) is not None
    )


def _is_container(value: Any) -> bool:
    return type(value) is dict or type(value) is list


def _is_transcoded(value: Any) -> bool:
    return type(value) is dict and len(value) == 2 and "_type_" in value and "_data_" in value


class BillingPostgresFactory(PostgresFactory):
    """eventsourcing's Postgres factory, building `BillingProcessRecorder`s (and
    `BillingAggregateRecorder`s for the snapshots) and (through
    `Application.construct_transcoder`, which registers the app's transcodings on it) an
    `OrjsonTranscoder`."""

    process_recorder_class = BillingProcessRecorder
    aggregate_recorder_class = BillingAggregateRecorder  # the snapshots' (snapshots.py)

    def transcoder(self) -> Transcoder:
        if self.env.get(self.TRANSCODER_TOPIC):
            return super().transcoder()
        return OrjsonTranscoder()
