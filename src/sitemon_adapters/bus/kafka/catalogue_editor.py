"""Reading the whole catalogue topic and publishing changes to it (``sites apply/list``)."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from sitemon_adapters.bus.kafka.catalogue import CatalogueStats, decode_record
from sitemon_adapters.bus.kafka.connection import KafkaConnection
from sitemon_adapters.codec.site_avro import AvroSiteCodec
from sitemon_core.errors import SitemonError
from sitemon_core.models import Site

_POLL_MS = 500


class KafkaCatalogueEditor:
    """A ``CatalogueEditor`` over the compacted sites topic (no consumer group: it reads
    every partition from the beginning to its high watermark)."""

    def __init__(
        self, connection: KafkaConnection, topic: str, *, codec: AvroSiteCodec | None = None
    ) -> None:
        self._connection = connection
        self._topic = topic
        self._codec = codec or AvroSiteCodec()
        self._producer: AIOKafkaProducer | None = None
        self.stats = CatalogueStats()

    async def __aenter__(self) -> KafkaCatalogueEditor:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def read_all(self) -> dict[str, Site]:
        """Every site the topic holds now; undecodable records are counted and skipped."""
        consumer = AIOKafkaConsumer(
            **self._connection.client_kwargs(), enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        try:
            return await self._read(consumer)
        finally:
            await consumer.stop()

    async def _read(self, consumer: AIOKafkaConsumer) -> dict[str, Site]:
        partitions = [TopicPartition(self._topic, p) for p in await self._partitions()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        sites: dict[str, Site] = {}
        pending = {tp for tp in partitions if ends[tp] > 0}
        while pending:
            fetched = await consumer.getmany(*pending, timeout_ms=_POLL_MS, max_records=20_000)
            for records in fetched.values():
                for record in records:
                    site = decode_record(self._codec, record, self.stats)
                    key = record.key.decode("utf-8", "replace") if record.key else ""
                    if site is None:
                        sites.pop(key, None)
                    elif isinstance(site, Site):
                        sites[key] = site
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        return sites

    async def _partitions(self) -> list[int]:
        # The producer's partitions_for waits for the topic's metadata (a consumer without
        # a subscription does not fetch it).
        try:
            return sorted(await (await self._started_producer()).partitions_for(self._topic))
        except KafkaError as exc:
            raise SitemonError(f"cannot read Kafka topic {self._topic}: {exc!r}") from exc

    async def _started_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                **self._connection.client_kwargs(), acks="all", enable_idempotence=True
            )
            await self._producer.start()
        return self._producer

    async def write(self, upserted: Sequence[Site], removed: Sequence[str]) -> None:
        """Publish each upserted site and a tombstone per removed id, keyed by id; returns
        once the broker has acknowledged all of them (``acks=all``)."""
        producer = await self._started_producer()
        deliveries = [
            await producer.send(self._topic, self._codec.encode(s), key=s.id.encode())
            for s in upserted
        ]
        deliveries += [
            await producer.send(self._topic, None, key=site_id.encode()) for site_id in removed
        ]
        await producer.flush()
        for delivery in deliveries:
            await delivery
