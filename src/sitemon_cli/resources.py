"""Async resources the container manages: each opens a client and closes it on shutdown.

Drivers are imported inside the function that needs them, so ``sitemon-run producer``
never loads asyncpg and the embedded mode never loads aiokafka.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import TypeVar

from sitemon_adapters.clock import SystemClock
from sitemon_cli.config import Config, KafkaSettings
from sitemon_cli.config.requirements import CURL_INSTALL_HINT
from sitemon_core.errors import ConfigError, RepositoryError
from sitemon_core.persister import Backoff
from sitemon_core.ports import (
    CatalogueEditor,
    Clock,
    SiteCatalogue,
    SiteProber,
    StatusPublisher,
    StatusRepository,
    StatusSubscriber,
)

T = TypeVar("T")

log = logging.getLogger("sitemon.process")


async def aiohttp_prober(config: Config, clock: Clock) -> AsyncIterator[SiteProber]:
    """The default prober: aiohttp, a fresh connection per check."""
    from sitemon_adapters.probe.aiohttp.prober import AiohttpSiteProber

    async with AiohttpSiteProber(
        region=config.scanner.region,
        clock=clock,
        user_agent=config.scanner.user_agent,
        dns_cache_ttl_s=config.scanner.dns_cache_ttl_s,
    ) as prober:
        yield prober


async def tcp_prober(config: Config, clock: Clock) -> AsyncIterator[SiteProber]:
    """The TCP (and TLS handshake) prober of ``tcp://`` and ``tls://`` sites."""
    from sitemon_adapters.probe.tcp import TcpSiteProber

    async with TcpSiteProber(region=config.scanner.region, clock=clock) as prober:
        yield prober


async def dns_prober(config: Config, clock: Clock) -> AsyncIterator[SiteProber]:
    """The DNS prober of ``kind: dns`` sites (dnspython's asyncio resolver)."""
    from sitemon_adapters.probe.dns import DnsSiteProber

    async with DnsSiteProber(region=config.scanner.region, clock=clock) as prober:
        yield prober


async def curl_prober(config: Config, clock: Clock) -> AsyncIterator[SiteProber]:
    """The libcurl prober (``pip install -e '.[curl]'``): same timings and error kinds,
    2.1-2.4x the checks per CPU-second of aiohttp (BENCHMARKS.md)."""
    try:
        from sitemon_adapters.probe.curl.prober import CurlSiteProber
    except ImportError as exc:
        raise ConfigError(
            config.source, "scanner.prober", f"curl needs pycurl: {CURL_INSTALL_HINT}"
        ) from exc

    async with CurlSiteProber(
        config.scanner.region,
        clock,
        user_agent=config.scanner.user_agent,
        dns_cache_ttl_s=config.scanner.dns_cache_ttl_s,
    ) as prober:
        yield prober


async def sqlite_repository(config: Config) -> AsyncIterator[StatusRepository]:
    """The embedded repository: one SQLite file, migrated on open."""
    from sitemon_adapters.store.sqlite.repository import SqliteStatusRepository

    async with SqliteStatusRepository(config.sqlite_path) as repository:
        await repository.migrate()
        yield repository


async def postgres_repository(
    config: Config, startup_wait_s: float = 60.0
) -> AsyncIterator[StatusRepository]:
    """PostgreSQL through an asyncpg pool; migrations are applied (safely) on open.

    A database that is down at start is waited for (with backoff, up to
    ``startup_wait_s``) so a consumer started before its database does not crash-loop; a
    short command (``status``) waits a few seconds only.
    The history partitions for today and the next days are created before the first save
    (the partition keeper then keeps them ahead).
    """
    from sitemon_adapters.store.postgres import PostgresStatusRepository

    settings = config.postgres
    async with AsyncExitStack() as stack:
        repository = await _open_with_retry(
            stack,
            lambda: PostgresStatusRepository(
                settings.dsn,
                schema=settings.schema,
                pool_min=settings.pool_min,
                pool_max=settings.pool_max,
                statement_cache_size=settings.statement_cache_size,
                partition_size_s=settings.partition_size_s,
                retention_mode=config.history_retention_mode,
            ),
            wait_s=startup_wait_s,
        )
        await repository.migrate()
        try:
            await repository.ensure_partitions(SystemClock().utcnow())
        except RepositoryError as exc:
            if not exc.retriable:
                raise
            # E.g. a long query held the table past the lock timeout: rows go to the
            # default partition meanwhile, and the partition keeper tries again.
            log.warning("history partitions not created at start", extra={"error": str(exc)})
        yield repository


async def postgres_reader(
    config: Config, startup_wait_s: float = 60.0
) -> AsyncIterator[StatusRepository]:
    """PostgreSQL for a reader (``sitemon-run web``): opened as ``postgres_repository`` is,
    but it runs no DDL (no migration, no partition), so a role with SELECT rights is enough.
    A schema that is absent or older than this release is logged at start, and the web
    server's readiness fails until ``sitemon-run migrate`` has run (no restart needed)."""
    from sitemon_adapters.store.postgres import PostgresStatusRepository
    from sitemon_adapters.store.postgres.dsn import dsn_without_passwords
    from sitemon_adapters.store.postgres.migrations import schema_problem

    settings = config.postgres
    async with AsyncExitStack() as stack:
        repository = await _open_with_retry(
            stack,
            lambda: PostgresStatusRepository(
                settings.dsn,
                schema=settings.schema,
                pool_min=settings.pool_min,
                pool_max=settings.pool_max,
                statement_cache_size=settings.statement_cache_size,
            ),
            wait_s=startup_wait_s,
        )
        async with repository.connection("schema check") as conn:
            problem = await schema_problem(conn, repository.schema)
        if problem is not None:
            log.warning(
                "repository not ready",
                extra={
                    "problem": problem.replace("<config>", str(config.source)),
                    "dsn": dsn_without_passwords(settings.dsn),
                    "schema": settings.schema,
                },
            )
        yield repository


STARTUP_WAIT_S = 60.0


async def _open_with_retry(
    stack: AsyncExitStack,
    make: Callable[[], AbstractAsyncContextManager[T]],
    *,
    clock: Clock | None = None,
    wait_s: float | None = None,
) -> T:
    """Enter ``make()`` on ``stack``, retrying a retriable ``RepositoryError`` with backoff
    for up to ``wait_s`` (default ``STARTUP_WAIT_S``) of ``clock``'s time."""
    clock = clock or SystemClock()
    backoff = Backoff(initial_s=0.5, maximum_s=5.0)
    deadline = clock.monotonic() + (STARTUP_WAIT_S if wait_s is None else wait_s)
    for attempt in itertools.count(1):
        try:
            return await stack.enter_async_context(make())
        except RepositoryError as exc:
            if not exc.retriable or clock.monotonic() + backoff.delay(attempt) > deadline:
                raise
            log.warning(
                "repository unavailable at start, retrying",
                extra={"error": str(exc), "attempt": attempt},
            )
            await clock.sleep(backoff.delay(attempt))
    raise AssertionError("unreachable")


async def create_topics(settings: KafkaSettings) -> list[str]:
    """Create the results and dead-letter topics when missing.

    This is every process's first contact with Kafka, so a failure to connect (refused,
    untrusted certificate, missing client certificate, rejected password...) surfaces
    here as a ``KafkaConnectError`` that names the cause, and the process exits non-zero.
    """
    from aiokafka.errors import KafkaError

    from sitemon_adapters.bus.kafka import ensure_topics

    connection = settings.connection
    try:
        return await ensure_topics(
            connection,
            [settings.topic, settings.dead_letter_topic],
            partitions=settings.partitions,
            replication_factor=settings.replication_factor,
        )
    except (KafkaError, OSError) as exc:  # OSError includes TimeoutError
        raise await connection.explain_failure(exc) from exc


async def kafka_publisher(config: Config) -> AsyncIterator[StatusPublisher]:
    """The producer side: topics ensured, then an idempotent, bounded publisher."""
    from sitemon_adapters.bus.kafka import KafkaStatusPublisher

    settings = config.kafka
    await create_topics(settings)
    async with KafkaStatusPublisher(
        settings.connection,
        settings.topic,
        max_buffered=settings.max_buffered,
        flush_timeout_s=config.scanner.shutdown_grace_s,
    ) as publisher:
        yield publisher


async def kafka_subscriber(
    config: Config, group_id: str | None = None, *, alerter: bool = False
) -> AsyncIterator[StatusSubscriber]:
    """A consumer-group member: the persister's (``kafka.group_id``, with the dead-letter
    topic, from the earliest record) or the alerter's own group (no dead letters: the
    persister already sets poison records aside; a new group starts at the latest record)."""
    from sitemon_adapters.bus.kafka import KafkaStatusSubscriber

    settings = config.kafka
    await create_topics(settings)
    async with KafkaStatusSubscriber(
        settings.connection,
        settings.topic,
        group_id or settings.group_id,
        dead_letter_topic=None if alerter else settings.dead_letter_topic,
        start_from="latest" if alerter else "earliest",
        session_timeout_ms=round(settings.session_timeout_s * 1000),
        # Three heartbeats per session, as Kafka recommends (at most 3 s apart).
        heartbeat_interval_ms=min(3000, round(settings.session_timeout_s * 1000 / 3)),
    ) as subscriber:
        yield subscriber


def scanner_group(config: Config) -> str:
    """The consumer group of a region's scanners on the catalogue topic."""
    return f"sitemon-scanners.{config.scanner.region}"


async def create_sites_topic(settings: KafkaSettings) -> list[str]:
    """Create the compacted catalogue topic when missing (``KafkaConnectError`` explains a
    failure to connect, as for the results topics)."""
    from aiokafka.errors import KafkaError

    from sitemon_adapters.bus.kafka import ensure_topics

    try:
        return await ensure_topics(
            settings.connection,
            [settings.sites_topic],
            partitions=settings.sites_partitions,
            replication_factor=settings.replication_factor,
            topic_configs={"cleanup.policy": "compact"},
        )
    except (KafkaError, OSError) as exc:
        raise await settings.connection.explain_failure(exc) from exc


async def kafka_site_catalogue(config: Config) -> AsyncIterator[SiteCatalogue]:
    """This scanner's share of the catalogue topic: a member of its region's group."""
    from sitemon_adapters.bus.kafka import KafkaSiteCatalogue

    settings = config.kafka
    await create_sites_topic(settings)
    async with KafkaSiteCatalogue(
        settings.connection,
        settings.sites_topic,
        scanner_group(config),
        session_timeout_ms=round(settings.session_timeout_s * 1000),
        # Hear of a rebalance (a scanner left) within half a second: the handover time.
        heartbeat_interval_ms=min(500, round(settings.session_timeout_s * 1000 / 3)),
    ) as catalogue:
        yield catalogue


async def kafka_catalogue_editor(config: Config) -> AsyncIterator[CatalogueEditor]:
    """The whole catalogue topic, for ``sites apply`` and ``sites list``."""
    from sitemon_adapters.bus.kafka import KafkaCatalogueEditor

    await create_sites_topic(config.kafka)
    async with KafkaCatalogueEditor(config.kafka.connection, config.kafka.sites_topic) as editor:
        yield editor
