"""The data keys of personal data: one per (account, livemode, data subject), wrapped by the
master key, in schema `privacy` (never `billing`: `billing_reader` must not read them).

    privacy.data_keys      key_id (uuid5 of the identity), account_id, livemode, subject,
                           wrapped (NULL once erased), master_key_id, created_at, erased_at
    privacy.subject_links  a payment that named no customer (or a mandate, which never does)
                           → the customer it belongs to

A subject is a customer (`cus_…`); a payment whose events name no customer is sealed under
the customer an earlier event linked it to, else under its own key, and `erase` destroys the
keys of every payment linked to the customer too. An erased key keeps its row (a tombstone):
events that arrive later for that person are stored with their facts only, never under a new
key. Erasing nulls the wrapped key in place; copies PostgreSQL may keep (dead row versions,
WAL, backups) are wrapped by the master key, and rotating it (`rewrap`) makes them useless.

Ingest asks `subject_key` for every event (cached here: a key once read serves the process).
`erase` notifies channel `privacy_key_erased` on commit and `watch_erasures` empties the cache
when told, so the person's later events are stored with their facts only; one sealed in the
moment between is sealed under a key that no longer exists, which reads as erased too.
Projections ask `lookup` inside their transaction: it locks the key rows it returns (FOR
SHARE), so `erase` waits for a batch that decrypted with them, and a batch after it finds
them gone.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from billing_ledger.errors import BillingLedgerError, ConfigurationError
from billing_ledger.infra.data_key import DataKey
from billing_ledger.infra.master_key import MasterKey, WrongMasterKey

SCHEMA = "privacy"
ERASED_CHANNEL = "privacy_key_erased"
RECONNECT_SECONDS = 1.0
KEYS_TABLE = f"{SCHEMA}.data_keys"
CACHE_SIZE = 65_536
KEYS_LOCK = 0x4B45_5953  # "KEYS": serialises concurrent first creations

DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.data_keys (
        key_id uuid PRIMARY KEY,
        account_id text NOT NULL,
        livemode boolean NOT NULL,
        subject text NOT NULL,
        wrapped bytea,
        master_key_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        erased_at timestamptz,
        CHECK ((wrapped IS NULL) = (erased_at IS NOT NULL))
    )""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.subject_links (
        account_id text NOT NULL,
        livemode boolean NOT NULL,
        subject text NOT NULL,
        customer text NOT NULL,
        PRIMARY KEY (account_id, livemode, subject)
    )""",
    f"CREATE INDEX IF NOT EXISTS subject_links_customer ON {SCHEMA}.subject_links "
    "(account_id, livemode, customer)",
)
CREATE_KEY = f"""
INSERT INTO {SCHEMA}.data_keys (key_id, account_id, livemode, subject, wrapped, master_key_id)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (key_id) DO NOTHING
"""
READ_KEY = f"SELECT wrapped, master_key_id FROM {SCHEMA}.data_keys WHERE key_id = %s"
LOOKUP = f"""
SELECT key_id, wrapped, master_key_id FROM {SCHEMA}.data_keys
WHERE key_id = ANY(%s) AND wrapped IS NOT NULL ORDER BY key_id FOR SHARE
"""
LINK = f"""
INSERT INTO {SCHEMA}.subject_links (account_id, livemode, subject, customer)
VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING
"""
READ_LINK = f"""
SELECT customer FROM {SCHEMA}.subject_links WHERE account_id = %s AND livemode = %s
AND subject = %s
"""
LINKED = f"""
SELECT subject FROM {SCHEMA}.subject_links WHERE account_id = %s AND livemode = %s
AND customer = %s ORDER BY subject
"""
ERASE = f"""
INSERT INTO {SCHEMA}.data_keys (key_id, account_id, livemode, subject, erased_at)
VALUES (%s, %s, %s, %s, now())
ON CONFLICT (key_id) DO UPDATE SET wrapped = NULL, master_key_id = NULL,
    erased_at = coalesce(data_keys.erased_at, EXCLUDED.erased_at)
"""
MASTERS = f"""
SELECT master_key_id, count(*), min(key_id::text) FROM {SCHEMA}.data_keys
WHERE wrapped IS NOT NULL GROUP BY master_key_id ORDER BY master_key_id
"""


class KeysUnavailable(BillingLedgerError):
    """The key store cannot be reached now (the caller should answer 503 or retry)."""


@dataclass(frozen=True)
class KeyStatus:
    """What may be shown about one data key: never the key."""

    subject: str
    created_at: datetime
    erased_at: datetime | None


@lru_cache(maxsize=CACHE_SIZE)  # asked for every webhook: a uuid5 is a SHA-1 and an object
def key_id(account_id: str, livemode: bool, subject: str) -> UUID:
    """The data key id of an identity: stable, so a token names its key without a lookup."""
    return uuid5(NAMESPACE_URL, f"privacy:{account_id}:{str(livemode).lower()}:{subject}")


def create_tables(conn: psycopg.Connection[Any]) -> None:
    """The schema and its tables, if missing (idempotent, safe to race)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (KEYS_LOCK,))
        for statement in DDL:
            conn.execute(statement)


def count_live(conn: psycopg.Connection[Any]) -> int:
    """Data keys that exist (not erased); 0 if there is no key table yet."""
    found = conn.execute("SELECT to_regclass('privacy.data_keys')").fetchone()
    if found is None or found[0] is None:
        return 0
    row = conn.execute(f"SELECT count(*) FROM {SCHEMA}.data_keys WHERE wrapped IS NOT NULL")
    counted = row.fetchone()
    return int(counted[0]) if counted else 0


def check_master(conn: psycopg.Connection[Any], master: MasterKey, origin: str) -> None:
    """Refuse, in one line naming `origin` (where the key came from), a master key that did
    not wrap the existing data keys."""
    for master_id, count, sample in conn.execute(MASTERS).fetchall():
        row = conn.execute(READ_KEY, (UUID(sample),)).fetchone()
        try:
            if master_id != master.key_id or row is None:
                raise WrongMasterKey(master_id)
            master.unwrap(bytes(row[0]), UUID(sample).bytes)
        except WrongMasterKey:
            raise ConfigurationError(
                f"{origin}: wrong master key: {count} data key(s) are wrapped by master key "
                f"{master_id}, not by this one ({master.key_id}); give the key they were "
                "wrapped with"
            ) from None


def rewrap(conn: psycopg.Connection[Any], old: MasterKey, new: MasterKey) -> int:
    """Inside the caller's transaction: wrap every live data key with `new` instead of `old`
    (those `new` already wraps are left as they are). Events, tokens and sealed bodies are
    untouched: the data keys themselves do not change. Returns how many moved."""
    rows = conn.execute(
        f"SELECT key_id, wrapped, master_key_id FROM {SCHEMA}.data_keys "
        "WHERE wrapped IS NOT NULL ORDER BY key_id FOR UPDATE"
    ).fetchall()
    moved = 0
    with conn.cursor() as cur:
        for found, wrapped, master_id in rows:
            if master_id == new.key_id:
                continue
            material = old.unwrap(bytes(wrapped), found.bytes)
            cur.execute(
                f"UPDATE {SCHEMA}.data_keys SET wrapped = %s, master_key_id = %s WHERE key_id = %s",
                (new.wrap(material, found.bytes), new.key_id, found),
            )
            moved += 1
    return moved


class KeyStore:
    """Data keys on a connection pool, unwrapped by `master`. Thread-safe."""

    def __init__(self, pool: ConnectionPool, master: MasterKey) -> None:
        self._pool = pool
        self._master = master
        self._lock = threading.Lock()
        self._keys: OrderedDict[UUID, DataKey | None] = OrderedDict()  # None: erased
        self._links: OrderedDict[tuple[str, bool, str], str | None] = OrderedDict()
        self._unwrapped: dict[tuple[UUID, bytes], DataKey] = {}
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def master(self) -> MasterKey:
        return self._master

    # --- ingest -------------------------------------------------------------------------

    def cached_subject_key(
        self, account_id: str, livemode: bool, customer: str | None, owner: str
    ) -> tuple[str, DataKey | None] | None:
        """`subject_key` from memory only; None when it would need the database."""
        with self._lock:
            if customer is None:
                link = (account_id, livemode, owner)
                if link not in self._links:
                    return None
                subject = self._links[link] or owner
            else:
                subject = customer
                if owner != customer and self._links.get((account_id, livemode, owner)) is None:
                    return None
            found = key_id(account_id, livemode, subject)
            if found not in self._keys:
                return None
            self._keys.move_to_end(found)
            return subject, self._keys[found]

    def subject_key(
        self, account_id: str, livemode: bool, customer: str | None, owner: str
    ) -> tuple[str, DataKey | None]:
        """The subject an event of `customer` (if it names one) and `owner` is sealed for, and
        its data key (created if new; None if erased)."""
        cached = self.cached_subject_key(account_id, livemode, customer, owner)
        if cached is not None:
            return cached
        with self._connection() as conn:
            if customer is None:
                row = conn.execute(READ_LINK, (account_id, livemode, owner)).fetchone()
                subject = row[0] if row else owner
                self._remember_link((account_id, livemode, owner), row[0] if row else None)
            else:
                subject = customer
                if owner != customer:
                    conn.execute(LINK, (account_id, livemode, owner, customer))
                    conn.commit()
                    self._remember_link((account_id, livemode, owner), customer)
            return subject, self._key(conn, account_id, livemode, subject)

    def links_known(
        self, account_id: str, livemode: bool, subjects: Collection[str], customer: str
    ) -> bool:
        """Whether every one of `subjects` is known (in memory) to be `customer`'s."""
        with self._lock:
            return all(self._links.get((account_id, livemode, s)) == customer for s in subjects)

    def link(self, account_id: str, livemode: bool, subject: str, customer: str) -> None:
        """Record that the events of `subject`, which name no customer, are `customer`'s (the
        first customer named wins, as for payments)."""
        if self.links_known(account_id, livemode, (subject,), customer):
            return
        with self._connection() as conn:
            conn.execute(LINK, (account_id, livemode, subject, customer))
            conn.commit()
        self._remember_link((account_id, livemode, subject), customer)

    def _key(
        self, conn: psycopg.Connection[Any], account_id: str, livemode: bool, subject: str
    ) -> DataKey | None:
        found = key_id(account_id, livemode, subject)
        material = DataKey.new_material()
        wrapped = self._master.wrap(material, found.bytes)
        with conn.transaction():
            conn.execute(
                CREATE_KEY,
                (found, account_id, livemode, subject, wrapped, self._master.key_id),
            )
            row = conn.execute(READ_KEY, (found,)).fetchone()
        assert row is not None
        key = None if row[0] is None else self._unwrap(found, bytes(row[0]))
        with self._lock:
            self._keys[found] = key
            while len(self._keys) > CACHE_SIZE:
                self._keys.popitem(last=False)
        return key

    def _remember_link(self, link: tuple[str, bool, str], customer: str | None) -> None:
        with self._lock:
            self._links[link] = customer
            while len(self._links) > CACHE_SIZE:
                self._links.popitem(last=False)

    # --- projections and export ---------------------------------------------------------

    def lookup(self, cur: psycopg.Cursor[Any], key_ids: Collection[UUID]) -> dict[UUID, DataKey]:
        """Inside the caller's transaction: the keys among `key_ids` that exist, locked (FOR
        SHARE) until it ends, so that an erasure waits for what was decrypted with them."""
        if not key_ids:
            return {}
        rows = cur.execute(LOOKUP, (sorted(key_ids),)).fetchall()
        return {row[0]: self._unwrap(row[0], bytes(row[1])) for row in rows}

    def _unwrap(self, found: UUID, wrapped: bytes) -> DataKey:
        cached = self._unwrapped.get((found, wrapped))
        if cached is None:
            cached = DataKey(found, self._master.unwrap(wrapped, found.bytes))
            if len(self._unwrapped) >= CACHE_SIZE:
                self._unwrapped.clear()
            self._unwrapped[(found, wrapped)] = cached
        return cached

    # --- erasure, export and rotation ---------------------------------------------------

    def erase(
        self, conn: psycopg.Connection[Any], account_id: str, livemode: bool, subject: str
    ) -> list[str]:
        """Inside the caller's transaction: destroy the data keys of `subject` and of every
        payment linked to it, leaving tombstones (created if the subject was never seen, so
        nothing of it is ever sealed readably later). Returns the subjects erased."""
        subjects = [subject, *self.linked(conn, account_id, livemode, subject)]
        with conn.cursor() as cur:
            cur.executemany(
                ERASE,
                [(key_id(account_id, livemode, s), account_id, livemode, s) for s in subjects],
            )
        conn.execute(f"NOTIFY {ERASED_CHANNEL}")  # delivered when the caller commits
        with self._lock:
            for s in subjects:
                self._keys[key_id(account_id, livemode, s)] = None
        return subjects

    def watch_erasures(self) -> None:
        """Follow erasures made by other processes (a thread with a connection of its own),
        forgetting every cached key when one happens; stopped by `close`."""
        if self._watcher is not None:
            return
        self._watcher = threading.Thread(target=self._watch, name="key-erasures", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)

    def forget_cached(self) -> None:
        with self._lock:
            self._keys.clear()
            self._links.clear()

    def _watch(self) -> None:
        conninfo = self._pool.conninfo
        dsn = conninfo() if callable(conninfo) else conninfo
        while not self._stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {ERASED_CHANNEL}")
                    self.forget_cached()  # whatever was erased before this connection listened
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=RECONNECT_SECONDS, stop_after=1):
                            self.forget_cached()
            except psycopg.Error:
                self._stop.wait(RECONNECT_SECONDS)

    def linked(
        self, conn: psycopg.Connection[Any], account_id: str, livemode: bool, customer: str
    ) -> list[str]:
        return [row[0] for row in conn.execute(LINKED, (account_id, livemode, customer))]

    def identities(self, conn: psycopg.Connection[Any], subject: str) -> list[tuple[str, bool]]:
        """The (account, livemode) pairs in which `subject` has a key (live or erased)."""
        rows = conn.execute(
            f"SELECT DISTINCT account_id, livemode FROM {SCHEMA}.data_keys WHERE subject = %s "
            "ORDER BY 1, 2",
            (subject,),
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def status(
        self, conn: psycopg.Connection[Any], account_id: str, livemode: bool, subjects: list[str]
    ) -> list[KeyStatus]:
        rows = conn.execute(
            f"SELECT subject, created_at, erased_at FROM {SCHEMA}.data_keys "
            "WHERE account_id = %s AND livemode = %s AND subject = ANY(%s) ORDER BY subject",
            (account_id, livemode, subjects),
        ).fetchall()
        return [KeyStatus(*row) for row in rows]

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise KeysUnavailable("key store unavailable") from e
