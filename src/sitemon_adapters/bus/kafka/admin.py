"""Topic management: create the results and dead-letter topics if they are missing."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from sitemon_adapters.bus.kafka.connection import KafkaConnection
from sitemon_core.errors import SitemonError

log = logging.getLogger("sitemon.kafka")


async def ensure_topics(
    connection: KafkaConnection,
    topics: list[str],
    *,
    partitions: int,
    replication_factor: int,
    retention_ms: int | None = None,
    topic_configs: dict[str, str] | None = None,
) -> list[str]:
    """Create each missing topic; return the names created. Existing topics are left as is.

    ``topic_configs`` adds topic settings (``{"cleanup.policy": "compact"}``).
    """
    admin = AIOKafkaAdminClient(**connection.client_kwargs())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return []
        configs = {"min.insync.replicas": str(min(2, replication_factor))}
        if retention_ms is not None:
            configs["retention.ms"] = str(retention_ms)
        configs |= topic_configs or {}
        new = [NewTopic(t, partitions, replication_factor, topic_configs=configs) for t in missing]
        try:
            response = await admin.create_topics(new)
        except TopicAlreadyExistsError:
            return []  # another process created them between list and create: fine
        _raise_topic_errors(response.topic_errors)
        log.info(
            "topics created",
            extra={
                "topics": missing,
                "partitions": partitions,
                "replication_factor": replication_factor,
            },
        )
        return missing
    finally:
        await admin.close()


_TOPIC_ALREADY_EXISTS = 36


def _raise_topic_errors(topic_errors: list[tuple[object, ...]]) -> None:
    failed = [
        (e[0], e[1], e[2] if len(e) > 2 else "")
        for e in topic_errors
        if e[1] not in (0, _TOPIC_ALREADY_EXISTS)
    ]
    if failed:
        detail = "; ".join(f"{t}: error {code} {msg or ''}".strip() for t, code, msg in failed)
        raise SitemonError(f"cannot create Kafka topics: {detail}")
