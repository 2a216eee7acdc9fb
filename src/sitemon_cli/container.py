"""The composition root: which adapter implements which port, for each deployment shape.

This is the only place that knows the adapters. Runners ask it for a use case and call
``shutdown_resources()`` in ``finally`` so the prober session, the Kafka producer and the
database pool are closed (and flushed) on every exit path.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from sitemon_adapters.bus.memory import InMemoryStatusBus
from sitemon_adapters.clock import SystemClock
from sitemon_adapters.probe.router import ProbeRouter
from sitemon_cli import resources
from sitemon_cli.config import Config
from sitemon_core.persister import Persister
from sitemon_core.retention import HistoryRetention
from sitemon_core.scanner import Scanner


class Container(containers.DeclarativeContainer):
    """Adapters chosen by ``config.bus`` / ``config.repository``, and the use cases."""

    config = providers.Dependency(instance_of=Config)
    clock = providers.Singleton(SystemClock)

    memory_bus = providers.Singleton(
        InMemoryStatusBus, max_buffered=config.provided.kafka.max_buffered
    )
    http_prober = providers.Selector(
        config.provided.scanner.prober,
        aiohttp=providers.Resource(resources.aiohttp_prober, config, clock),
        curl=providers.Resource(resources.curl_prober, config, clock),
    )
    prober = providers.Singleton(
        ProbeRouter,
        providers.Dict(http=http_prober),
        region=config.provided.scanner.region,
        clock=clock,
    )
    publisher = providers.Selector(
        config.provided.bus,
        memory=providers.Singleton(memory_bus.provided.publisher.call()),
        kafka=providers.Resource(resources.kafka_publisher, config),
    )
    subscriber = providers.Selector(
        config.provided.bus,
        memory=providers.Singleton(memory_bus.provided.subscriber.call("persister")),
        kafka=providers.Resource(resources.kafka_subscriber, config),
    )
    repository = providers.Selector(
        config.provided.repository,
        sqlite=providers.Resource(resources.sqlite_repository, config),
        postgres=providers.Resource(resources.postgres_repository, config),
    )

    scanner = providers.Singleton(
        Scanner,
        prober=prober,
        publisher=publisher,
        clock=clock,
        region=config.provided.scanner.region,
        max_concurrency=config.provided.scanner.max_concurrency,
        max_jitter_s=config.provided.scanner.start_jitter_s,
    )
    persister = providers.Singleton(
        Persister,
        subscriber=subscriber,
        repository=repository,
        clock=clock,
        batch_size=config.provided.persister.batch_size,
        poll_timeout_s=config.provided.persister.poll_timeout_s,
        max_in_flight=config.provided.persister.max_in_flight,
    )
    # Only asked for when ``repository.history_retention`` is set.
    retention = providers.Singleton(
        HistoryRetention,
        repository=repository,
        clock=clock,
        keep_s=config.provided.history_retention_s,
        every_s=config.provided.history_prune_every_s,
    )


def build_container(config: Config) -> Container:
    """A container wired for ``config``."""
    return Container(config=config)
