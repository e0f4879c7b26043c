"""The topic of record, created if missing as soon as a broker answers.

A service started during a Kafka outage (a supervisor restarts it, the broker is down) must ride
the outage out rather than exit: `create_when_reachable` runs in a thread of its own, tries until
the topic exists, and sets `ready`. It uses librdkafka's admin client, which reconnects by itself
(at most a second apart, see `kafka_producer.librdkafka_config`); attempts are bounded and a
second apart, so a broker that comes back is found within a second or two, however long it was
away.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from billing_ledger.eventlog.kafka_producer import LIBRDKAFKA_LOGGER, LibrdkafkaConfig

log = logging.getLogger(__name__)

ATTEMPT_SECONDS = 5.0
RETRY_SECONDS = 1.0  # between attempts, so a broker that refuses at once is not hammered


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int

    def configs(self) -> dict[str, str]:
        """Kept forever, never compacted; with replicas, a write needs two of them."""
        configs = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}
        if self.replication_factor > 1:
            configs["min.insync.replicas"] = str(min(2, self.replication_factor))
        return configs


def create_when_reachable(
    config: LibrdkafkaConfig,
    spec: TopicSpec,
    ready: threading.Event,
    stop: threading.Event,
    servers: str,
) -> None:
    """Create `spec`'s topic unless it exists, retrying until a broker answers; then set
    `ready`. Returns early once `stop` is set."""
    admin = AdminClient(config, logger=LIBRDKAFKA_LOGGER)
    reported: set[str] = set()
    while not stop.is_set():
        try:
            _create(admin, spec)
        except KafkaException as e:
            error = e.args[0] if e.args and isinstance(e.args[0], KafkaError) else None
            reason = error.name() if error is not None else type(e).__name__
            if reason not in reported:  # once per reason, not once per attempt
                _report(spec, servers, error, reason)
                reported.add(reason)
            admin.poll(0)  # hands librdkafka's lines of the attempt to our logging
            stop.wait(RETRY_SECONDS)
            continue
        ready.set()
        log.info("Kafka topic %s ready at %s", spec.name, servers)
        return


def _report(spec: TopicSpec, servers: str, error: KafkaError | None, reason: str) -> None:
    # librdkafka's own errors (negative codes: timed out, transport) mean no broker answered; a
    # broker's refusal (e.g. too few brokers yet for the replication factor) may pass as the
    # cluster comes back, so both are retried.
    if error is None or error.code() < 0:
        log.warning(
            "Kafka unavailable at %s; retrying until it answers", servers, extra={"reason": reason}
        )
    else:
        log.warning(
            "Kafka refused to create topic %s; retrying", spec.name, extra={"reason": reason}
        )


def _create(admin: AdminClient, spec: TopicSpec) -> None:
    topic = NewTopic(spec.name, spec.partitions, spec.replication_factor, config=spec.configs())
    future = admin.create_topics(
        [topic], request_timeout=ATTEMPT_SECONDS, operation_timeout=ATTEMPT_SECONDS
    )[spec.name]
    try:
        future.result()
    except KafkaException as e:
        if e.args and isinstance(e.args[0], KafkaError):
            if e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                return
        raise
