"""The site catalogue on a compacted Kafka topic, owned by partition assignment.

Key = site id, value = the site as an Avro record (``AvroSiteCodec``), no value (a
tombstone) = removed. Scanners of one region form the consumer group
``sitemon-scanners.<region>``: the partitions the group assigns to a member are the sites
it owns. Offsets are never committed: a member reads each newly assigned partition from the
beginning to the high watermark (the compacted topic is the catalogue's current state),
then follows it live.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import Any

import attrs
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from aiokafka.errors import IllegalStateError

from sitemon_adapters.bus.kafka.connection import KafkaConnection
from sitemon_adapters.bus.kafka.subscriber import partition_names
from sitemon_adapters.codec.avro import CodecError
from sitemon_adapters.codec.site_avro import AvroSiteCodec
from sitemon_core.models import Site
from sitemon_core.ports import CatalogueEvent, SitesAssigned, SitesChanged

log = logging.getLogger("sitemon.catalogue")

_POLL_MS = 200
_MAX_RECORDS = 20_000


@attrs.define
class CatalogueStats:
    """Counters of a catalogue member."""

    records: int = 0
    undecodable: int = 0
    rebalances: int = 0
    last_load_s: float = 0.0


def decode_record(codec: AvroSiteCodec, record: Any, stats: CatalogueStats) -> Site | bool | None:
    """The site of one record, ``None`` for a tombstone, ``False`` when it is unusable (logged
    and counted: the record is skipped, the rest of the catalogue is unaffected)."""
    if record.value is None:
        return None
    try:
        site = codec.decode(record.value)
        key = record.key.decode("utf-8") if record.key is not None else None
    except (CodecError, UnicodeDecodeError) as exc:
        reason = str(exc)
    else:
        if key == site.id:
            return site
        reason = "the record key is not the site id"
    stats.undecodable += 1
    log.error(
        "undecodable site record skipped",
        extra={
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "reason": reason[:300],
            "undecodable_total": stats.undecodable,
        },
    )
    return False


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, catalogue: KafkaSiteCatalogue) -> None:
        self._catalogue = catalogue

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Nothing stops here: the sites stay scheduled until the new assignment says which
        # partitions really moved (most stay), so a rebalance does not open a gap.
        self._catalogue.rebalance_began(bool(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._catalogue.reassign(set(assigned))


class KafkaSiteCatalogue:
    """A ``SiteCatalogue``: this member's share of the catalogue topic, and its changes."""

    def __init__(
        self,
        connection: KafkaConnection,
        topic: str,
        group_id: str,
        *,
        codec: AvroSiteCodec | None = None,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 500,
    ) -> None:
        self._connection = connection
        self._topic = topic
        self._group_id = group_id
        self._codec = codec or AvroSiteCodec()
        # A short heartbeat: members hear of a rebalance (a scanner left) within it.
        self._timeouts = {
            "session_timeout_ms": session_timeout_ms,
            "heartbeat_interval_ms": heartbeat_interval_ms,
        }
        self._consumer: AIOKafkaConsumer | None = None
        self._sites: dict[TopicPartition, dict[str, Site]] = {}
        self._next: dict[TopicPartition, int] = {}
        self._loading: dict[TopicPartition, int | None] = {}  # tp -> high watermark to reach
        self._reassigned = False
        self._announce = False  # a SitesAssigned is due once the new share is loaded
        self._moved_away = False
        self._assigned_at = 0.0
        self._partitions = 0
        self._rebalance_at: float | None = None
        self._since: float | None = None
        self._left = False
        self.stats = CatalogueStats()

    def describe(self) -> str:
        """Topic and group, for log lines."""
        return f"kafka topic {self._topic}, group {self._group_id}"

    async def __aenter__(self) -> KafkaSiteCatalogue:
        self._consumer = AIOKafkaConsumer(
            **self._connection.client_kwargs(),
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            partition_assignment_strategy=(StickyPartitionAssignor,),
            **self._timeouts,
        )
        self._consumer.subscribe([self._topic], listener=_Rebalance(self))
        await self._consumer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.leave()

    async def leave(self) -> None:
        """Leave the group now (its partitions move to the others at once)."""
        if self._consumer is not None and not self._left:
            self._left = True
            await self._consumer.stop()
            log.info("catalogue left", extra={"group": self._group_id})

    def rebalance_began(self, had_partitions: bool) -> None:
        """A rebalance starts (this member heard of it): remember when. A member that owned
        partitions keeps checking them until the new assignment; the sites it receives went
        unchecked since about now at the latest (their owner left or died before)."""
        self._rebalance_at = time.time() if had_partitions else None

    def reassign(self, assigned: set[TopicPartition]) -> None:
        """The group's new assignment: keep the partitions kept, load the new ones."""
        assert self._consumer is not None
        owned = set(self._sites)
        for tp in owned - assigned:
            del self._sites[tp]
            self._next.pop(tp, None)
            self._loading.pop(tp, None)
            self._moved_away = True
        for tp in assigned & owned:
            if tp in self._next:  # the group reset positions: continue where we were
                self._consumer.seek(tp, self._next[tp])
        if assigned - owned:
            self._since = self._rebalance_at
        for tp in assigned - owned:
            self._sites[tp] = {}
            self._loading[tp] = None
            self._consumer.seek(tp, 0)  # the whole compacted history (resets if gone)
        self.stats.rebalances += 1
        self._partitions = len(assigned)
        self._assigned_at = time.monotonic()
        self._reassigned = True
        self._announce = True
        log.info(
            "partitions assigned",
            extra={
                "partitions": partition_names(assigned),
                "new": partition_names(assigned - owned),
                "moved_away": partition_names(owned - assigned),
            },
        )

    async def events(self) -> AsyncIterator[CatalogueEvent]:
        """Assignments (once loaded) and live changes, until ``leave``."""
        assert self._consumer is not None, "use the catalogue as an async context manager"
        while not self._left:
            if self._reassigned:
                self._reassigned = False
                await self._fetch_high_watermarks()
                if self._moved_away and self._loading:
                    # Partitions moved away: stop their sites now, not after the load.
                    yield SitesAssigned(tuple(self._owned_sites(loaded_only=True)))
            fetched = await self._consumer.getmany(timeout_ms=_POLL_MS, max_records=_MAX_RECORDS)
            change = self._apply(fetched)
            if change is not None:
                yield change
            if self._announce and await self._loaded():
                yield self._assignment()

    async def _fetch_high_watermarks(self) -> None:
        assert self._consumer is not None
        pending = [tp for tp, end in self._loading.items() if end is None]
        if pending:
            ends = await self._consumer.end_offsets(pending)
            for tp in pending:
                if tp in self._loading:  # not moved away meanwhile
                    self._loading[tp] = ends[tp]

    def _apply(self, fetched: dict[TopicPartition, list[Any]]) -> SitesChanged | None:
        final: dict[str, Site | None] = {}
        for tp, records in fetched.items():
            sites = self._sites.get(tp)
            if sites is None:
                continue  # moved away while being fetched
            live = tp not in self._loading
            for record in records:
                self.stats.records += 1
                self._next[tp] = record.offset + 1
                site = decode_record(self._codec, record, self.stats)
                if site is False:
                    continue
                key = record.key.decode("utf-8", "replace") if record.key is not None else ""
                if site is None:
                    sites.pop(key, None)
                else:
                    assert isinstance(site, Site)
                    sites[key] = site
                if live:
                    final[key] = site if isinstance(site, Site) else None
        if not final:
            return None
        return SitesChanged(
            upserted=tuple(s for s in final.values() if s is not None),
            removed=tuple(k for k, s in final.items() if s is None),
        )

    async def _loaded(self) -> bool:
        assert self._consumer is not None
        for tp, end in list(self._loading.items()):
            behind = end is None or self._next.get(tp, 0) < end
            # Compaction leaves gaps: the position, not the last offset seen, says "done".
            if behind and (end is None or await self._position(tp) < end):
                return False
            del self._loading[tp]
        return True

    async def _position(self, tp: TopicPartition) -> int:
        assert self._consumer is not None
        try:
            return int(await self._consumer.position(tp))
        except IllegalStateError:
            return -1  # a rebalance is under way: not loaded yet, the next assignment says

    def _assignment(self) -> SitesAssigned:
        self._moved_away = self._announce = False
        load_s = time.monotonic() - self._assigned_at
        self.stats.last_load_s = load_s
        sites = tuple(self._owned_sites())
        details = {"partitions": self._partitions, "load_s": round(load_s, 3)}
        since, self._since = self._since, None
        return SitesAssigned(sites, details, since)

    def _owned_sites(self, *, loaded_only: bool = False) -> Iterable[Site]:
        for tp, sites in self._sites.items():
            if not (loaded_only and tp in self._loading):
                yield from sites.values()
