"""The Kafka log's producer: librdkafka (confluent-kafka), idempotent, `acks=all`.

kafka-python's producer is pure Python: on the ingest server (one core for the event loop and
the sender thread) it cost ~0.35 ms of CPU per 3 KB event, as much as verifying, parsing and
answering the webhook. librdkafka batches, sends and retries in C threads; this module only
hands it records and turns its delivery reports into callbacks.

Each `send` reports exactly once: `on_delivery(None)` when the broker acknowledged the record
(all in-sync replicas), `on_delivery(error)` when it could not, at the latest after the delivery
timeout. The reports come from one thread of ours that serves librdkafka's report queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

DeliveryReport = Callable[["ProducerError | None"], None]
LibrdkafkaConfig = dict[str, str | int | float | bool]
REPORT_POLL_SECONDS = 0.1
# librdkafka's own lines go through our logging (infra/logs.py), not raw to stderr. They are
# handed over when a client is polled: the producer's report thread does it for the producer.
LIBRDKAFKA_LOGGER = logging.getLogger("librdkafka")
# librdkafka waits up to 10 s between reconnects by default: a broker back from an outage would
# go unnoticed that long.
RECONNECT_BACKOFF_MAX_MS = 1000

# kafka-python option names (Settings.kafka_client_options) -> librdkafka properties.
_OPTION_NAMES = {
    "security_protocol": "security.protocol",
    "ssl_cafile": "ssl.ca.location",
    "ssl_certfile": "ssl.certificate.location",
    "ssl_keyfile": "ssl.key.location",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
}


def librdkafka_config(
    bootstrap_servers: Sequence[str], client_options: Mapping[str, Any]
) -> LibrdkafkaConfig:
    """The settings every librdkafka client of ours shares: the brokers, TLS and SASL (given
    under kafka-python's names), quick reconnects."""
    config: LibrdkafkaConfig = {
        "bootstrap.servers": ",".join(bootstrap_servers),
        "reconnect.backoff.max.ms": RECONNECT_BACKOFF_MAX_MS,
    }
    for option, value in client_options.items():
        config[_OPTION_NAMES[option]] = value
    return config


class ProducerError(Exception):
    """The record was not (or not surely) stored; librdkafka's reason is the message.

    `fatal`: the producer can send nothing more (librdkafka's fatal errors, e.g. a fenced
    idempotent producer) and must be replaced. Anything else (a timeout, a broker away) is
    recovered by librdkafka itself: it reconnects, and bumps its idempotent epoch after
    records that timed out in flight.
    """

    def __init__(self, reason: str, *, fatal: bool = False) -> None:
        super().__init__(reason)
        self.fatal = fatal

    @classmethod
    def of(cls, error: KafkaError) -> ProducerError:
        return cls(error.str(), fatal=error.fatal())


class AckedProducer:
    """An idempotent `acks=all` librdkafka producer and the thread serving its reports."""

    def __init__(
        self,
        bootstrap_servers: Sequence[str],
        *,
        delivery_timeout_ms: int,
        linger_ms: int,
        client_options: Mapping[str, Any],
    ) -> None:
        config = librdkafka_config(bootstrap_servers, client_options)
        config |= {
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": linger_ms,
            "delivery.timeout.ms": delivery_timeout_ms,
            # kafka-python's (and Java's) partitioner: a key keeps the partition it had.
            "partitioner": "murmur2_random",
        }
        try:
            self._producer = Producer(config, logger=LIBRDKAFKA_LOGGER)
        except KafkaException as e:
            raise _translated(e) from e
        self._closed = threading.Event()
        self._reports = threading.Thread(
            target=self._serve_reports, name="kafka-delivery-reports", daemon=True
        )
        self._reports.start()

    def send(
        self,
        topic: str,
        *,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, str | bytes | None]],
        timestamp_ms: int,
        on_delivery: DeliveryReport,
    ) -> None:
        """Queue one record; raise ProducerError if librdkafka refuses it at once."""

        def report(error: KafkaError | None, message: Message) -> None:
            on_delivery(None if error is None else ProducerError.of(error))

        try:
            self._producer.produce(
                topic,
                value=value,
                key=key,
                headers=headers,
                timestamp=timestamp_ms,
                on_delivery=report,
            )
        except BufferError as e:  # the local queue is full: not stored, nothing broken
            raise ProducerError(str(e)) from e
        except KafkaException as e:
            raise _translated(e) from e

    def check_topic(self, topic: str, timeout: float) -> None:
        """Ask a broker, within `timeout` seconds, for `topic`; raise ProducerError unless every
        partition of it has a leader (so a record could be acknowledged now)."""
        try:
            metadata = self._producer.list_topics(topic, timeout=timeout).topics.get(topic)
        except KafkaException as e:
            raise _translated(e) from e
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise ProducerError(f"topic {topic} unavailable")
        if any(p.leader < 0 or p.error is not None for p in metadata.partitions.values()):
            raise ProducerError(f"a partition of {topic} has no leader")

    def close(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for queued records' reports, then stop."""
        self._producer.flush(timeout)
        self._closed.set()
        self._reports.join()

    def _serve_reports(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(REPORT_POLL_SECONDS)


def _translated(e: KafkaException) -> ProducerError:
    error = e.args[0] if e.args else None
    return ProducerError.of(error) if isinstance(error, KafkaError) else ProducerError(str(e))
