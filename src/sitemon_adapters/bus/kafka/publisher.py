"""KafkaStatusPublisher: results to a Kafka topic, keyed by site, bounded, never silent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

import attrs
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
)

from sitemon_adapters.bus.kafka.connection import KafkaConnection
from sitemon_adapters.codec.avro import AvroCheckResultCodec, CodecError
from sitemon_core.errors import PublishError
from sitemon_core.models import CheckResult

log = logging.getLogger("sitemon.kafka")

_RETRY_S = 0.5
# Errors after which this producer's idempotence state is unusable: only a new one helps.
_BROKEN_PRODUCER = (OutOfOrderSequenceNumber, InvalidProducerEpoch)
_CLOSE_S = 5.0  # beyond the flush timeout, for the producer's own close


@attrs.define
class PublisherStats:
    """Counters of a publisher: every result accepted ends delivered or dropped."""

    accepted: int = 0
    delivered: int = 0
    redelivery_attempts: int = 0
    producer_resets: int = 0
    dropped: int = 0


class KafkaStatusPublisher:
    """Publishes each result as one Avro record keyed by site id (per-site order).

    ``acks=all`` with the idempotent producer. At most ``max_buffered`` results may wait for
    the broker's acknowledgement; past that ``publish`` raises ``PublishError`` (the scanner
    counts and logs the drop) instead of growing memory while a broker is away. Failed
    deliveries are queued again until the publisher closes; what is still undelivered then
    (after a final flush of at most ``flush_timeout_s``) is counted as dropped and logged,
    once, so ``accepted == delivered + dropped`` after ``__aexit__``. Closing never waits
    for a broker that is away: the idempotent producer would retry its batches forever.
    """

    def __init__(
        self,
        connection: KafkaConnection,
        topic: str,
        *,
        codec: AvroCheckResultCodec | None = None,
        max_buffered: int = 100_000,
        linger_ms: int = 20,
        max_batch_size: int = 256 * 1024,
        compression_type: str | None = None,
        request_timeout_ms: int = 30_000,
        flush_timeout_s: float = 10.0,
    ) -> None:
        self._connection = connection
        self._topic = topic
        self._codec = codec or AvroCheckResultCodec()
        self._max_buffered = max_buffered
        self._producer_options = {
            "linger_ms": linger_ms,
            "max_batch_size": max_batch_size,
            "compression_type": compression_type,
            "request_timeout_ms": request_timeout_ms,
        }
        self._flush_timeout_s = flush_timeout_s
        self._stalled_at: int | None = None  # stats.delivered when a flush last timed out
        self._closing = False
        self._closed = False
        self._reset_needed = False
        self._in_flight: set[asyncio.Future[object]] = set()
        self._queue: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue()
        self._pending = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._producer: AIOKafkaProducer | None = None
        self._sender: asyncio.Task[None] | None = None
        self.stats = PublisherStats()

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            **self._connection.client_kwargs(),
            acks="all",
            enable_idempotence=True,
            **self._producer_options,
        )

    async def __aenter__(self) -> KafkaStatusPublisher:
        self._producer = self._new_producer()
        await self._producer.start()
        self._sender = asyncio.create_task(self._run_sender(), name="kafka-sender")
        return self

    async def _reset_producer(self) -> None:
        """Replace a producer whose idempotence state broke (seen after a broker restart:
        every later send fails with OutOfOrderSequenceNumber). A new producer gets a new
        producer id; what the old one held fails and is queued again."""
        old, self._reset_needed = self._producer, False
        self.stats.producer_resets += 1
        log.warning(
            "kafka producer reset after a fatal sequence error",
            extra={"pending": self._pending, "resets": self.stats.producer_resets},
        )
        if old is not None:
            sender = getattr(getattr(old, "_sender", None), "sender_task", None)
            if sender is not None:
                sender.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(old.stop(), _CLOSE_S)
        for delivery in list(self._in_flight):  # batches the old producer never settled
            delivery.cancel()  # their callbacks queue them again
        fresh = self._new_producer()
        while True:
            try:
                await fresh.start()
                break
            except KafkaError as exc:
                log.warning("kafka producer restart failed, retrying", extra={"error": repr(exc)})
                await asyncio.sleep(_RETRY_S)
        self._producer = fresh

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # A flush that already timed out without any delivery since means the broker
            # is away: do not wait for it a second time.
            if self._stalled_at is None or self.stats.delivered > self._stalled_at:
                await self.flush()
        finally:
            self._closing = True
            if self._sender is not None:
                self._sender.cancel()
            if self._producer is not None:
                await self._stop_producer()
            self._count_undelivered()

    async def _stop_producer(self) -> None:
        assert self._producer is not None
        timeout = self._flush_timeout_s + _CLOSE_S
        if self._pending:
            # The broker is not acknowledging: the idempotent producer retries its batches
            # forever and stop() would wait for them. aiokafka has no public abort, so stop
            # its sender task first (stop() then just closes the connections); whatever it
            # still held is counted as dropped.
            sender = getattr(getattr(self._producer, "_sender", None), "sender_task", None)
            if sender is not None:
                sender.cancel()
            timeout = _CLOSE_S
        try:
            await asyncio.wait_for(self._producer.stop(), timeout)
        except TimeoutError:
            log.error("kafka producer did not close in time", extra={"timeout_s": timeout})
        await asyncio.sleep(0)  # let delivery callbacks scheduled by stop() run

    def _count_undelivered(self) -> None:
        self._closed = True
        lost, self._pending = self._pending, 0
        if lost:
            self.stats.dropped += lost
            log.error(
                "results not delivered before shutdown",
                extra={
                    "undelivered": lost,
                    "dropped_total": self.stats.dropped,
                    "accepted": self.stats.accepted,
                    "delivered": self.stats.delivered,
                },
            )
        self._drained.set()

    @property
    def pending(self) -> int:
        """Results accepted and not yet acknowledged by the broker."""
        return self._pending

    async def publish(self, result: CheckResult) -> None:
        """Queue ``result``; raises ``PublishError`` if the buffer bound is reached."""
        if self._closing:
            raise PublishError("the Kafka publisher is closed")
        if self._pending >= self._max_buffered:
            raise PublishError(
                f"{self._pending} results are waiting for Kafka (max_buffered={self._max_buffered})"
            )
        try:
            value = self._codec.encode(result)
        except CodecError as exc:
            raise PublishError(f"cannot encode result: {exc}") from exc
        self._pending += 1
        self._drained.clear()
        self.stats.accepted += 1
        self._queue.put_nowait((result.site_id.encode(), value))

    async def flush(self) -> None:
        """Wait until every accepted result is acknowledged, up to ``flush_timeout_s``.

        Results still waiting then stay queued (they may yet be delivered); the ones
        still undelivered when the publisher closes are counted as dropped.
        """
        try:
            await asyncio.wait_for(self._drained.wait(), self._flush_timeout_s)
        except TimeoutError:
            self._stalled_at = self.stats.delivered
            log.warning(
                "results still waiting for Kafka after flush",
                extra={"pending": self._pending, "timeout_s": self._flush_timeout_s},
            )
        else:
            self._stalled_at = None

    async def _run_sender(self) -> None:
        while True:
            key, value = await self._queue.get()
            while True:
                if self._reset_needed:
                    await self._reset_producer()
                assert self._producer is not None
                try:
                    delivery = await self._producer.send(self._topic, value, key=key)
                    break
                except KafkaError as exc:  # no metadata / buffer full while a broker is away
                    log.warning("kafka send failed, retrying", extra={"error": repr(exc)})
                    await asyncio.sleep(_RETRY_S)
            self._in_flight.add(delivery)
            delivery.add_done_callback(lambda fut, k=key, v=value: self._delivered(fut, k, v))

    def _delivered(self, fut: asyncio.Future[object], key: bytes, value: bytes) -> None:
        self._in_flight.discard(fut)
        failed = fut.cancelled() or fut.exception() is not None  # (retrieves the exception)
        if self._closed:
            return  # what was undelivered at close is already counted as dropped
        if not failed:
            self.stats.delivered += 1
            self._pending -= 1
            if self._pending == 0:
                self._drained.set()
            return
        if self._closing:
            return  # failed by the close itself: counted as dropped by _count_undelivered
        # The broker did not take it in time: queue it again; the repository's newest-wins
        # rule makes the changed order harmless.
        if not fut.cancelled() and isinstance(fut.exception(), _BROKEN_PRODUCER):
            self._reset_needed = True
        self.stats.redelivery_attempts += 1
        if self.stats.redelivery_attempts % 1000 == 1:
            log.warning(
                "kafka delivery failed, retrying",
                extra={
                    "error": repr(None if fut.cancelled() else fut.exception()),
                    "pending": self._pending,
                },
            )
        self._queue.put_nowait((key, value))
