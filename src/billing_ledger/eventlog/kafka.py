"""The log of record as a Kafka topic (the scale-out option).

Producer: idempotent, `acks=all`, small linger so concurrent requests share a batch (group
commit); `append` returns only after the broker acknowledged the write. The message key is the
record's `partition_key` (account, livemode, customer-or-object id) so one customer's events
stay in one partition, in order. The topic is created if missing with infinite retention.

Consumer: a consumer group; positions of record live in Postgres tracking rows named
`{topic}:{partition}`, written in the same transaction as the effects, so on every assignment
we seek to the tracked position instead of trusting Kafka's committed offsets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import TopicPartition

from billing_ledger.eventlog.port import (
    EventLog,
    EventRecord,
    LoggedEvent,
    LogUnavailable,
    PositionLookup,
)

log = logging.getLogger(__name__)

ACK_TIMEOUT_SECONDS = 15.0
POLL_TIMEOUT_MS = 500
_HEADERS = (
    "event_id",
    "event_type",
    "created",
    "livemode",
    "account",
    "api_version",
    "received_at",
)


class KafkaEventLog(EventLog):
    def __init__(
        self,
        bootstrap_servers: list[str],
        topic: str,
        *,
        partitions: int = 6,
        replication_factor: int = 1,
        consumer_group: str = "billing-ledger-processor",
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self._servers = bootstrap_servers
        self._topic = topic
        self._partitions = partitions
        self._replication_factor = replication_factor
        self._group = consumer_group
        self._options = dict(client_options or {})
        self._producer: KafkaProducer | None = None
        self._producer_lock = threading.Lock()
        self._probe: KafkaConsumer | None = None
        self._probe_lock = threading.Lock()

    def open(self) -> None:
        """Create the topic if it is missing (several partitions, kept forever)."""
        configs = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}
        if self._replication_factor > 1:
            configs["min.insync.replicas"] = str(min(2, self._replication_factor))
        try:
            admin = KafkaAdminClient(bootstrap_servers=self._servers, **self._options)
        except KafkaError as e:
            raise LogUnavailable(f"Kafka unavailable at {','.join(self._servers)}") from e
        try:
            admin.create_topics(
                [
                    NewTopic(
                        self._topic,
                        self._partitions,
                        self._replication_factor,
                        topic_configs=configs,
                    )
                ]
            )
        except TopicAlreadyExistsError:
            pass
        except KafkaError as e:
            raise LogUnavailable(f"cannot create Kafka topic {self._topic}") from e
        finally:
            admin.close()

    def append(self, record: EventRecord) -> None:
        headers = [
            ("event_id", record.event_id.encode()),
            ("event_type", record.event_type.encode()),
            ("created", str(record.created).encode()),
            ("livemode", b"true" if record.livemode else b"false"),
            ("account", record.account.encode()),
            ("api_version", (record.api_version or "").encode()),
            ("received_at", record.received_at.isoformat().encode()),
        ]
        producer: KafkaProducer | None = None
        try:
            producer = self._get_producer()
            future = producer.send(
                self._topic,
                key=record.partition_key.encode(),
                value=record.body,
                headers=headers,
                timestamp_ms=int(record.received_at.timestamp() * 1000),
            )
            future.get(timeout=ACK_TIMEOUT_SECONDS)
        except KafkaError as e:
            if producer is not None:
                self._discard_producer(producer)
            raise LogUnavailable("Kafka log unavailable") from e

    def follow(
        self, processed: PositionLookup, stop: threading.Event, batch_size: int = 500
    ) -> Generator[list[LoggedEvent], None, None]:
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=self._servers,
                group_id=self._group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=batch_size,
                **self._options,
            )
        except KafkaError as e:
            raise LogUnavailable("Kafka log unavailable") from e
        try:
            consumer.subscribe([self._topic], listener=_SeekToTracked(consumer, processed))
            while not stop.is_set():
                try:
                    polled = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
                except KafkaError as e:
                    raise LogUnavailable("Kafka log unavailable") from e
                for partition, messages in sorted(polled.items()):
                    log_name = tracking_name(partition.topic, partition.partition)
                    yield [LoggedEvent(log_name, m.offset, _record(m)) for m in messages]
        finally:
            consumer.close(autocommit=False)

    def replay(
        self, processed: PositionLookup, until: Mapping[str, int], batch_size: int = 500
    ) -> Iterator[list[LoggedEvent]]:
        remaining = {}
        for name, last in until.items():
            topic, _, partition = name.rpartition(":")
            done = processed(name)
            if done is None or done < last:
                remaining[TopicPartition(topic, int(partition))] = (done, last)
        if not remaining:
            return
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=self._servers,
                enable_auto_commit=False,
                max_poll_records=batch_size,
                **self._options,
            )
        except KafkaError as e:
            raise LogUnavailable("Kafka log unavailable") from e
        try:
            consumer.assign(list(remaining))
            for tp, (done, _) in remaining.items():
                consumer.seek(tp, 0 if done is None else done + 1)
            while remaining:
                try:
                    polled = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
                except KafkaError as e:
                    raise LogUnavailable("Kafka log unavailable") from e
                for tp, messages in sorted(polled.items()):
                    if tp not in remaining:
                        continue
                    last = remaining[tp][1]
                    batch = [
                        LoggedEvent(tracking_name(tp.topic, tp.partition), m.offset, _record(m))
                        for m in messages
                        if m.offset <= last
                    ]
                    if batch:
                        yield batch
                    if messages[-1].offset >= last:
                        del remaining[tp]
                        consumer.pause(tp)
        finally:
            consumer.close(autocommit=False)

    def has_follower(self) -> bool:
        try:
            admin = KafkaAdminClient(bootstrap_servers=self._servers, **self._options)
        except KafkaError as e:
            raise LogUnavailable("Kafka log unavailable") from e
        try:
            groups = admin.describe_groups([self._group])
        except KafkaError as e:
            raise LogUnavailable("Kafka log unavailable") from e
        finally:
            admin.close()
        return bool((groups.get(self._group) or {}).get("members"))

    def head(self) -> dict[str, int]:
        try:
            with self._probe_lock:
                if self._probe is None:
                    self._probe = KafkaConsumer(bootstrap_servers=self._servers, **self._options)
                partitions = self._probe.partitions_for_topic(self._topic) or set()
                ends = self._probe.end_offsets([TopicPartition(self._topic, p) for p in partitions])
        except KafkaError as e:
            raise LogUnavailable("Kafka log unavailable") from e
        return {tracking_name(tp.topic, tp.partition): end - 1 for tp, end in ends.items() if end}

    def ping(self) -> None:
        self.head()

    def close(self) -> None:
        with self._producer_lock:
            if self._producer is not None:
                self._producer.flush()
                self._producer.close()
                self._producer = None
        with self._probe_lock:
            if self._probe is not None:
                self._probe.close()
                self._probe = None

    def _discard_producer(self, failed: KafkaProducer) -> None:
        """Replace a producer whose send failed. After its batches expired while the broker
        was down, an idempotent kafka-python producer stays wedged (every later send times
        out, found by scripts/chaos); a new one gets a new producer id. Re-sent events may be
        duplicated in the log, which processing absorbs (effects are keyed by event)."""
        close = failed.close
        with self._producer_lock:
            if self._producer is not failed:
                return
            self._producer = None
        threading.Thread(target=close, kwargs={"timeout": 0}, daemon=True).start()

    def _get_producer(self) -> KafkaProducer:
        with self._producer_lock:
            if self._producer is None:
                self._producer = KafkaProducer(
                    bootstrap_servers=self._servers,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=2,
                    max_block_ms=5000,
                    request_timeout_ms=10000,
                    delivery_timeout_ms=int(ACK_TIMEOUT_SECONDS * 1000) - 1000,
                    **self._options,
                )
            return self._producer


def tracking_name(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


class _SeekToTracked(ConsumerRebalanceListener):  # type: ignore[misc]
    """On every assignment, start each partition right after its position tracked in Postgres."""

    def __init__(self, consumer: KafkaConsumer, processed: PositionLookup) -> None:
        self._consumer = consumer
        self._processed = processed

    def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        for tp in assigned:
            done = self._processed(tracking_name(tp.topic, tp.partition))
            self._consumer.seek(tp, 0 if done is None else done + 1)
        log.info("partitions assigned: %s", sorted(tp.partition for tp in assigned))


def _record(message: Any) -> EventRecord:
    headers = {key: value.decode() for key, value in message.headers if key in _HEADERS}
    return EventRecord(
        body=message.value,
        event_id=headers["event_id"],
        event_type=headers["event_type"],
        created=int(headers["created"]),
        livemode=headers["livemode"] == "true",
        account=headers["account"],
        api_version=headers["api_version"] or None,
        received_at=datetime.fromisoformat(headers["received_at"]).astimezone(UTC),
        partition_key=message.key.decode(),
    )
