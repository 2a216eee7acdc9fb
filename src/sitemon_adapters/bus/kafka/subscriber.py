"""KafkaStatusSubscriber: a consumer-group member that commits only what was saved."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import attrs
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from sitemon_adapters.bus.kafka.connection import KafkaConnection
from sitemon_adapters.codec.avro import AvroCheckResultCodec, CodecError
from sitemon_core.errors import SubscriberError
from sitemon_core.models import CheckResult
from sitemon_core.ports import Batch

log = logging.getLogger("sitemon.kafka")


@attrs.define
class SubscriberStats:
    """Counters of a subscriber."""

    received: int = 0
    committed_batches: int = 0
    dead_lettered: int = 0
    commit_failures: int = 0


def partition_names(partitions: Iterable[TopicPartition]) -> list[str]:
    """``topic[partition]`` for each, in order (for log lines people read)."""
    return [f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions)]


class _CommitBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets a batch in hand be saved and committed before its partitions move away."""

    def __init__(self, subscriber: KafkaStatusSubscriber) -> None:
        self._subscriber = subscriber

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._subscriber.wait_idle()
        log.info("partitions revoked", extra={"partitions": partition_names(revoked)})

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions assigned", extra={"partitions": partition_names(assigned)})


class KafkaStatusSubscriber:
    """Receives result batches from a consumer group; ``acknowledge`` commits their offsets.

    Undecodable records (poison messages) go to the dead-letter topic with the reason in a
    header before their offset can be committed; the good records around them flow on.
    """

    def __init__(
        self,
        connection: KafkaConnection,
        topic: str,
        group_id: str,
        *,
        dead_letter_topic: str | None = None,
        codec: AvroCheckResultCodec | None = None,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        revoke_timeout_s: float = 10.0,
        start_from: str = "earliest",
    ) -> None:
        """``start_from``: where a group with no committed offset begins: ``earliest`` (a
        persister stores everything) or ``latest`` (an alerter reacts to what happens now,
        not to outages long over)."""
        self._connection = connection
        self._start_from = start_from
        self._topic = topic
        self._group_id = group_id
        self._dead_letter_topic = dead_letter_topic
        self._codec = codec or AvroCheckResultCodec()
        self._timeouts = {
            "session_timeout_ms": session_timeout_ms,
            "heartbeat_interval_ms": heartbeat_interval_ms,
        }
        self._revoke_timeout_s = revoke_timeout_s
        # Batches handed out and not yet acknowledged (a persister saves several at once);
        # a rebalance waits (bounded) until they are all committed.
        self._unacknowledged = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq: AIOKafkaProducer | None = None
        self.stats = SubscriberStats()

    async def __aenter__(self) -> KafkaStatusSubscriber:
        kwargs = self._connection.client_kwargs()
        self._consumer = AIOKafkaConsumer(
            **kwargs,
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset=self._start_from,
            **self._timeouts,
        )
        self._consumer.subscribe([self._topic], listener=_CommitBeforeRevoke(self))
        await self._consumer.start()
        if self._dead_letter_topic is not None:
            self._dlq = AIOKafkaProducer(**kwargs, acks="all", enable_idempotence=True)
            await self._dlq.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._dlq is not None:
            await self._dlq.stop()

    async def wait_idle(self) -> None:
        """Wait (bounded) until no received batch awaits its acknowledgement."""
        try:
            await asyncio.wait_for(self._idle.wait(), self._revoke_timeout_s)
        except TimeoutError:
            log.warning("batch still unsaved at rebalance; it will be redelivered")

    async def receive(self, max_results: int, timeout_s: float) -> Batch:
        """The next records of the assigned partitions, decoded; poison ones dead-lettered."""
        assert self._consumer is not None, "use the subscriber as an async context manager"
        try:
            fetched = await self._consumer.getmany(
                timeout_ms=int(timeout_s * 1000), max_records=max_results
            )
        except KafkaError as exc:
            raise SubscriberError(
                f"kafka fetch failed: {exc!r}", retriable=bool(getattr(exc, "retriable", True))
            ) from exc
        if not fetched:
            return Batch(())
        try:
            results = await self._decode_all(fetched)
        except BaseException:
            self._rewind(fetched)
            raise
        self._unacknowledged += 1
        self._idle.clear()
        offsets = {tp: records[-1].offset + 1 for tp, records in fetched.items() if records}
        self.stats.received += len(results)
        return Batch(tuple(results), token=offsets)

    async def acknowledge(self, batch: Batch) -> None:
        """Commit the batch's offsets (call after the repository committed the results)."""
        assert self._consumer is not None
        offsets: dict[TopicPartition, int] | None = batch.token  # type: ignore[assignment]
        try:
            if offsets:
                await self._consumer.commit(offsets)
                self.stats.committed_batches += 1
        except KafkaError as exc:
            # Typically a rebalance moved the partitions: their new owner gets the batch
            # again and the idempotent repository ignores what is already stored.
            self.stats.commit_failures += 1
            raise SubscriberError(f"offset commit failed: {exc!r}", retriable=True) from exc
        finally:
            if offsets:
                self._unacknowledged = max(0, self._unacknowledged - 1)
            if self._unacknowledged == 0:
                self._idle.set()

    async def _decode_all(self, fetched: dict[TopicPartition, list[Any]]) -> list[CheckResult]:
        results: list[CheckResult] = []
        decode, keep = self._codec.decode, results.append  # once per batch, not per record
        for records in fetched.values():
            for record in records:
                try:
                    keep(decode(record.value))
                except CodecError as exc:
                    await self._dead_letter(record, str(exc))
        return results

    async def _dead_letter(self, record: Any, reason: str) -> None:
        self.stats.dead_lettered += 1
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        log.error(
            "poison message",
            extra={**where, "reason": reason, "dead_lettered_total": self.stats.dead_lettered},
        )
        if self._dlq is None or self._dead_letter_topic is None:
            return
        headers = [
            ("sitemon-error", reason.encode()),
            ("sitemon-source", "{topic}/{partition}/{offset}".format(**where).encode()),
        ]
        try:
            delivery = await self._dlq.send(
                self._dead_letter_topic, record.value or b"", key=record.key, headers=headers
            )
            await delivery
        except KafkaError as exc:
            raise SubscriberError(f"dead-letter publish failed: {exc!r}", retriable=True) from exc

    def _rewind(self, fetched: dict[TopicPartition, list[Any]]) -> None:
        """Put the consumer back before a batch that could not be handed over."""
        assert self._consumer is not None
        for tp, records in fetched.items():
            if records:
                self._consumer.seek(tp, records[0].offset)
