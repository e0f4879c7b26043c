"""The log of record as a Kafka topic (the scale-out option).

Producer: librdkafka's (`kafka_producer`), idempotent, `acks=all`, small linger so concurrent
requests share a batch (group commit); `append` returns, and `append_async` resolves, only after
the broker acknowledged the write, and raise LogUnavailable if it did not within `timeout`
seconds (librdkafka gives the record up then too; one that was in flight may still land, so
Stripe's retry may leave a duplicate in the log, which processing applies once). The message
key is the record's `partition_key` (account, livemode, customer-or-object id) so one
customer's events stay in one partition, in order; the partitioner is Java's murmur2, as
kafka-python's was, so a key keeps its partition. The topic is created if missing with
infinite retention (`kafka_topic`).

Opening never waits for a broker: a service started during an outage serves its health
endpoints and answers 503 until the topic exists, then works (`kafka_topic` keeps trying).
Only client settings that no broker could accept fail `open`, as a ConfigurationError.

Consumer: a consumer group; positions of record live in Postgres tracking rows named
`{topic}:{partition}`, written in the same transaction as the effects, so on every assignment
we seek to the tracked position instead of trusting Kafka's committed offsets.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Generator, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer
from kafka.errors import KafkaError
from kafka.structs import TopicPartition

from billing_ledger.errors import ConfigurationError
from billing_ledger.eventlog.kafka_producer import (
    AckedProducer,
    DeliveryReport,
    ProducerError,
    librdkafka_config,
)
from billing_ledger.eventlog.kafka_topic import TopicSpec, create_when_reachable
from billing_ledger.eventlog.port import (
    WEBHOOK,
    EventLog,
    EventRecord,
    LoggedEvent,
    LogUnavailable,
    PositionLookup,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 2.0
LINGER_MS = 5  # measured: 5 ms gave ~6-9% less server CPU per event than 2 ms; 0 ms more
POLL_TIMEOUT_MS = 500
# How far before an event's `created` its record may have been received by our clock (Stripe's
# and ours differ by seconds; a day is ample): reconciliation reads the log from that far back.
CLOCK_SKEW_SECONDS = 86_400
READY_POLL_SECONDS = 0.05
# kafka-python reconnects up to 30 s apart by default: the processor would notice a broker back
# from an outage that late.
RECONNECT_BACKOFF_MAX_MS = 1000
NOT_READY = "Kafka log not reachable yet"
# How long a processor that died (SIGKILL, power loss) keeps its partitions before the group
# hands them to the others: kafka-python's default is 45 s of lag on those partitions.
SESSION_TIMEOUT_MS = 10_000
HEARTBEAT_INTERVAL_MS = 3_000
_HEADERS = (
    "event_id",
    "event_type",
    "created",
    "livemode",
    "account",
    "api_version",
    "received_at",
    "data_subject",
    "verified_with",
    "source",
)
SEALED_HEADER = "sealed"  # the raw body under its subject's key (bytes; absent: facts only)


class KafkaEventLog(EventLog):
    first_position = 0  # partition offsets

    def __init__(
        self,
        bootstrap_servers: list[str],
        topic: str,
        *,
        partitions: int = 6,
        replication_factor: int = 1,
        consumer_group: str = "billing-ledger-processor",
        client_options: dict[str, Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        """`timeout`: how long an append waits for the acknowledgement (readiness included),
        and `ping` for a broker's answer, before LogUnavailable."""
        self._servers = bootstrap_servers
        self._topic = TopicSpec(topic, partitions, replication_factor)
        self._group = consumer_group
        self._options = dict(client_options or {})
        self._clients = {**self._options, "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS}
        self._producer: AckedProducer | None = None
        self._producer_lock = threading.Lock()
        self._probe: KafkaConsumer | None = None
        self._probe_lock = threading.Lock()
        self._timeout = timeout
        self._ready = threading.Event()
        self._closing = threading.Event()

    def open(self) -> None:
        """Start the producer and return at once; the topic is created if missing (several
        partitions, kept forever) as soon as a broker answers, in a thread of its own. Until
        then the log is not ready: appends wait for it within their timeout, `ping` raises
        LogUnavailable, `follow` waits.

        Raises ConfigurationError for client settings librdkafka refuses before connecting
        (TLS files it cannot load, SASL without credentials): no broker could accept them."""
        # Started now, the idempotent producer has its producer id before the first append: the
        # first records sent by a new librdkafka producer waited ~0.5 s for it (measured).
        try:
            self._get_producer()
        except ProducerError as e:
            raise ConfigurationError(f"Kafka client settings refused: {e}") from None
        threading.Thread(
            target=create_when_reachable,
            args=(
                librdkafka_config(self._servers, self._options),
                self._topic,
                self._ready,
                self._closing,
                ",".join(self._servers),
            ),
            name="kafka-topic",
            daemon=True,
        ).start()

    def append(self, record: EventRecord) -> None:
        deadline = time.monotonic() + self._timeout
        if not self._ready.wait(self._timeout):
            raise LogUnavailable(NOT_READY)
        acked = threading.Event()
        outcome: list[ProducerError | None] = []

        def report(error: ProducerError | None) -> None:
            outcome.append(error)
            acked.set()

        producer = self._send(record, report)
        if not acked.wait(max(0.0, deadline - time.monotonic())) or outcome[0] is not None:
            error = outcome[0] if outcome else None
            if error is not None and error.fatal:
                self._discard_producer(producer)
            raise LogUnavailable("Kafka log unavailable") from error

    async def append_async(self, record: EventRecord) -> None:
        """`append` without a thread: the delivery report resolves a future on the loop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        while not self._ready.is_set():  # only until the topic exists, after a start in an outage
            if loop.time() >= deadline:
                raise LogUnavailable(NOT_READY)
            await asyncio.sleep(READY_POLL_SECONDS)
        acked: asyncio.Future[None] = loop.create_future()

        def report(error: ProducerError | None) -> None:
            try:
                loop.call_soon_threadsafe(_settle, acked, error)
            except RuntimeError:  # the loop is closed: nobody waits for this report any more
                pass

        producer = self._send(record, report)
        try:
            async with asyncio.timeout_at(deadline):
                await acked
        except (ProducerError, TimeoutError) as e:
            if isinstance(e, ProducerError) and e.fatal:
                self._discard_producer(producer)
            raise LogUnavailable("Kafka log unavailable") from e

    def _send(self, record: EventRecord, report: DeliveryReport) -> AckedProducer:
        """Hand `record` to the producer (it never blocks); `report` is called once, later."""
        producer: AckedProducer | None = None
        try:
            producer = self._get_producer()
            producer.send(
                self._topic.name,
                key=record.partition_key.encode(),
                value=record.body,
                headers=_headers(record),
                timestamp_ms=int(record.received_at.timestamp() * 1000),
                on_delivery=report,
            )
        except ProducerError as e:
            if producer is not None and e.fatal:
                self._discard_producer(producer)
            raise LogUnavailable("Kafka log unavailable") from e
        return producer

    def follow(
        self, processed: PositionLookup, stop: threading.Event, batch_size: int = 500
    ) -> Generator[list[LoggedEvent], None, None]:
        while not self._ready.wait(POLL_TIMEOUT_MS / 1000):
            if stop.is_set():
                return
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=self._servers,
                group_id=self._group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=batch_size,
                session_timeout_ms=SESSION_TIMEOUT_MS,
                heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
                **self._clients,
            )
        except KafkaError as e:
            raise LogUnavailable("Kafka log unavailable") from e
        try:
            consumer.subscribe([self._topic.name], listener=_SeekToTracked(consumer, processed))
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
                **self._clients,
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

    def event_ids(self, created_since: int) -> set[str]:
        """Read from each partition's first record appended at or after `created_since`
        (less CLOCK_SKEW_SECONDS) to its head: a record's Kafka timestamp is its
        `received_at`, never before its event's `created` but for clock skew, so what
        reconciliation asks costs the retention window, not the topic's whole history. The
        log itself is read, so records appended but not yet processed are known too."""
        head = self.head()
        since_ms = max(created_since - CLOCK_SKEW_SECONDS, 0) * 1000
        try:
            with self._probe_lock:
                found = self._probe_consumer().offsets_for_times(
                    {_partition_of(name): since_ms for name in head}
                )
        except KafkaError as e:
            raise LogUnavailable("Kafka log unavailable") from e
        before = {
            tracking_name(tp.topic, tp.partition): at.offset - 1
            for tp, at in found.items()
            if at is not None
        }
        return {
            logged.record.event_id
            for batch in self.replay(before.get, {n: head[n] for n in before})
            for logged in batch
            if logged.record.created >= created_since
        }

    def has_follower(self) -> bool:
        try:
            admin = KafkaAdminClient(bootstrap_servers=self._servers, **self._clients)
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
                probe = self._probe_consumer()
                topic = self._topic.name
                partitions = probe.partitions_for_topic(topic) or set()
                ends = probe.end_offsets([TopicPartition(topic, p) for p in partitions])
        except KafkaError as e:
            raise LogUnavailable("Kafka log unavailable") from e
        return {tracking_name(tp.topic, tp.partition): end - 1 for tp, end in ends.items() if end}

    def _probe_consumer(self) -> KafkaConsumer:
        """The consumer that asks for offsets (made on first use; hold `_probe_lock`). No
        group, so no commits (kafka-python warns about auto-commit otherwise)."""
        if self._probe is None:
            self._probe = KafkaConsumer(
                bootstrap_servers=self._servers, enable_auto_commit=False, **self._clients
            )
        return self._probe

    def ping(self) -> None:
        """A broker answers for the topic within the timeout, every partition with a leader:
        asked through the producer, the client that appends."""
        if not self._ready.is_set():
            raise LogUnavailable(NOT_READY)
        try:
            self._get_producer().check_topic(self._topic.name, self._timeout)
        except ProducerError as e:
            raise LogUnavailable("Kafka log unavailable") from e

    def close(self) -> None:
        self._closing.set()
        with self._producer_lock:
            if self._producer is not None:
                self._producer.close(timeout=self._timeout)
                self._producer = None
        with self._probe_lock:
            if self._probe is not None:
                self._probe.close()
                self._probe = None

    def _discard_producer(self, failed: AckedProducer) -> None:
        """Replace a producer that failed fatally, so the next record goes out with a new
        producer id. Its other records still get their reports (it is closed in the background,
        up to the timeout). Re-sent events may be duplicated in the log, which processing
        absorbs (effects are keyed by event).

        Only fatal errors: a producer is not broken by records that timed out (librdkafka
        recovers), and replacing it after each would start one producer per failed webhook
        during an outage."""
        with self._producer_lock:
            if self._producer is not failed:
                return
            self._producer = None
        threading.Thread(
            target=failed.close, kwargs={"timeout": self._timeout}, daemon=True
        ).start()

    def _get_producer(self) -> AckedProducer:
        with self._producer_lock:
            if self._producer is None:
                self._producer = AckedProducer(
                    self._servers,
                    # Given up when the caller stops waiting: no record lingers in the queue
                    # to land long after its webhook was answered 503.
                    delivery_timeout_ms=int(self._timeout * 1000),
                    linger_ms=LINGER_MS,
                    client_options=self._options,
                )
            return self._producer


def _settle(acked: asyncio.Future[None], error: ProducerError | None) -> None:
    if acked.done():  # timed out (cancelled) already
        return
    if error is None:
        acked.set_result(None)
    else:
        acked.set_exception(error)


def _headers(record: EventRecord) -> list[tuple[str, str | bytes | None]]:
    return [
        ("event_id", record.event_id.encode()),
        ("event_type", record.event_type.encode()),
        ("created", str(record.created).encode()),
        ("livemode", b"true" if record.livemode else b"false"),
        ("account", record.account.encode()),
        ("api_version", (record.api_version or "").encode()),
        ("received_at", record.received_at.isoformat().encode()),
        *_sealed_headers(record),
    ]


def _sealed_headers(record: EventRecord) -> list[tuple[str, str | bytes | None]]:
    """The sealed format's headers; a record written before it has none of them."""
    headers: list[tuple[str, str | bytes | None]] = []
    if record.data_subject is not None:
        headers.append(("data_subject", record.data_subject.encode()))
    if record.verified_with is not None:
        headers.append(("verified_with", record.verified_with.encode()))
    if record.source != WEBHOOK:  # absent: a webhook's, as every record before sources was
        headers.append(("source", record.source.encode()))
    if record.sealed is not None:
        headers.append((SEALED_HEADER, record.sealed))
    return headers


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


def _partition_of(name: str) -> TopicPartition:
    topic, _, partition = name.rpartition(":")
    return TopicPartition(topic, int(partition))


def _record(message: Any) -> EventRecord:
    headers = {key: value.decode() for key, value in message.headers if key in _HEADERS}
    sealed = next((value for key, value in message.headers if key == SEALED_HEADER), None)
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
        sealed=sealed,
        data_subject=headers.get("data_subject"),
        verified_with=headers.get("verified_with"),
        source=headers.get("source", WEBHOOK),
    )
