"""The composition root: which adapter implements which port, for each deployment shape.

This is the only place that knows the adapters. A deployment shape (``standalone``,
``producer``, ``consumer``, ``alerter``, ``web``) is an ordered dict of named parts: the
long-running services, stopped in that order, and the adapters whose counters ``/metrics``
serves. Runners resolve one shape and call ``shutdown_resources()`` in ``finally`` so the
prober session, the Kafka producer and the database pool are closed (and flushed) on every
exit path.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
from dependency_injector import containers, providers

from sitemon_adapters.bus.memory import InMemoryStatusBus
from sitemon_adapters.clock import SystemClock
from sitemon_adapters.probe.http_common.patterns import ProbePatterns
from sitemon_adapters.probe.router import ProbeRouter
from sitemon_cli import alert_resources, resources, web_resources
from sitemon_cli.config import Config
from sitemon_cli.live import check_logger
from sitemon_cli.metrics import CheckMetrics, fan_out
from sitemon_core.alerting.alerter import Alerter
from sitemon_core.alerting.dispatcher import Dispatcher
from sitemon_core.catalogue import CatalogueFollower
from sitemon_core.models import CheckResult, Site
from sitemon_core.partitions import PartitionKeeper
from sitemon_core.persister import Persister
from sitemon_core.retention import HistoryRetention
from sitemon_core.scanner import Scanner
from sitemon_core.sharding import select_shard

Observer = Callable[[CheckResult, float], None]


@attrs.frozen(kw_only=True)
class RunOptions:
    """What the command line adds to the config: ``--shard K/N`` and ``--quiet``."""

    shard: tuple[int, int] | None = None
    quiet: bool = False
    # How long a database that is down at start is waited for: services wait, so a consumer
    # started before its database does not crash-loop; short commands fail within seconds.
    startup_wait_s: float = 60.0


# Embedded mode trades a little freshness for CPU at small catalogues, where the fixed cost
# of each event-loop wake-up (a timer, a reader resumed, a SQLite transaction) outweighs the
# check itself. At 1,000 sites / 10 s, with the memory bus waking a reader only for a full
# batch or at its linger's end, they halve standalone's CPU per check (measured, issue 15).

# Costs: a check starts up to 0.1 s after its due time (never early, never skipped, no
# drift; half the shortest interval if that is less). Buys: the scanner wakes at most 10
# times a second instead of once per check.
SCANNER_WAKE_GAP_S = 0.1
# Costs: a result reaches SQLite (the status page, the API) up to 1 s after it was
# published, and a stop may wait up to 1 s for the last batch. Buys: one transaction (and
# one wake-up of the persister) a second at 100 checks/s instead of four.
PERSISTER_LINGER_S = 1.0
# Costs: an alert is opened (and queued for delivery) up to 0.25 s after the result that
# trips it. Buys: the alerter wakes four times a second, not once per result.
ALERTER_LINGER_S = 0.25


def shard_sites(sites: tuple[Site, ...], shard: tuple[int, int] | None) -> list[Site]:
    """The sites this scanner owns (all of them when not sharded)."""
    return list(sites) if shard is None else select_shard(sites, *shard)


def check_observer(config: Config, options: RunOptions, checks: CheckMetrics) -> Observer | None:
    """What sees every result: the check log lines (``logging.checks``, none when quiet),
    the check metrics."""
    observers: list[Observer] = []
    logger = None if options.quiet else check_logger(config.log_checks)
    if logger is not None:
        observers.append(logger)
    if config.metrics_listen is not None:
        observers.append(checks.observe)
    return fan_out(*observers) if observers else None


def _retention_switch(config: Config) -> str:
    return "off" if config.history_retention_s is None else "on"


def partition_check_every_s(config: Config) -> float:
    """How often the partition keeper runs: a quarter of a partition, at most hourly."""
    return min(3600.0, config.postgres.partition_size_s / 4)


class Container(containers.DeclarativeContainer):
    """Adapters chosen by ``config.bus`` / ``config.repository``, the use cases, the shapes."""

    config = providers.Dependency(instance_of=Config)
    options = providers.Dependency(instance_of=RunOptions, default=RunOptions())
    clock = providers.Singleton(SystemClock)

    # Each subscriber lingers for a full batch as long as its own freshness allows.
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
        providers.Dict(
            http=http_prober,
            tcp=providers.Resource(resources.tcp_prober, config, clock),
            dns=providers.Resource(resources.dns_prober, config, clock),
        ),
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
        memory=providers.Singleton(
            memory_bus.provided.subscriber.call("persister", linger_s=PERSISTER_LINGER_S)
        ),
        kafka=providers.Resource(resources.kafka_subscriber, config),
    )
    repository = providers.Selector(
        config.provided.repository,
        sqlite=providers.Resource(resources.sqlite_repository, config),
        postgres=providers.Resource(
            resources.postgres_repository, config, options.provided.startup_wait_s
        ),
    )

    check_metrics = providers.Singleton(CheckMetrics)
    scanner = providers.Singleton(
        Scanner,
        prober=prober,
        publisher=publisher,
        clock=clock,
        region=config.provided.scanner.region,
        max_concurrency=config.provided.scanner.max_concurrency,
        max_jitter_s=config.provided.scanner.start_jitter_s,
        observer=providers.Callable(check_observer, config, options, check_metrics),
        drain_timeout_s=config.provided.scanner.shutdown_grace_s,
        sites=providers.Callable(shard_sites, config.provided.sites, options.provided.shard),
        wall_grid=providers.Callable(
            lambda source: source == "kafka", config.provided.sites_source
        ),
        min_wake_gap_s=SCANNER_WAKE_GAP_S,
    )
    # sites: {source: kafka}: the scanner's sites follow its share of the catalogue topic.
    catalogue = providers.Resource(resources.kafka_site_catalogue, config)
    catalogue_editor = providers.Resource(resources.kafka_catalogue_editor, config)
    follower = providers.Selector(
        config.provided.sites_source,
        kafka=providers.Singleton(
            CatalogueFollower,
            catalogue=catalogue,
            scanner=scanner,
            patterns=providers.Singleton(ProbePatterns),
        ),
        config=providers.Object(None),
    )
    sites_topic = providers.Selector(  # in the shapes for its counters (undecodable records)
        config.provided.sites_source, kafka=catalogue, config=providers.Object(None)
    )
    persister = providers.Singleton(
        Persister,
        subscriber=subscriber,
        repository=repository,
        clock=clock,
        batch_size=config.provided.persister.batch_size,
        poll_timeout_s=config.provided.persister.poll_timeout_s,
        max_in_flight=config.provided.persister.max_in_flight,
        # In one process the bus dies with it: store everything the scanner published.
        drain_on_stop=providers.Callable(lambda bus: bus == "memory", config.provided.bus),
    )
    # PostgreSQL keeps history in time partitions: created ahead, dropped past the window.
    partitions = providers.Selector(
        config.provided.repository,
        postgres=providers.Singleton(
            PartitionKeeper,
            repository,
            clock,
            every_s=providers.Callable(partition_check_every_s, config),
        ),
        sqlite=providers.Object(None),
    )
    retention = providers.Selector(
        providers.Callable(_retention_switch, config),
        on=providers.Singleton(
            HistoryRetention,
            repository=repository,
            clock=clock,
            keep_s=config.provided.history_retention_s,
            rollup_keep_s=config.provided.rollup_retention_s,
            every_s=config.provided.history_prune_every_s,
            partitions=providers.Selector(
                config.provided.repository, postgres=repository, sqlite=providers.Object(None)
            ),
        ),
        off=providers.Object(None),
    )

    # Alerting: its own reader of the results (a memory-bus group, or a Kafka consumer
    # group), incidents beside the history, notifications delivered off the check path.
    incidents = providers.Selector(
        config.provided.repository,
        sqlite=providers.Resource(alert_resources.sqlite_incidents, config),
        postgres=providers.Resource(alert_resources.postgres_incidents, config),
    )
    notifiers = providers.Resource(alert_resources.notifiers, config, clock)
    alert_subscriber = providers.Selector(
        config.provided.bus,
        memory=providers.Singleton(
            memory_bus.provided.subscriber.call("alerter", linger_s=ALERTER_LINGER_S)
        ),
        kafka=providers.Resource(
            resources.kafka_subscriber,
            config,
            providers.Callable(alert_resources.group_id, config),
            alerter=True,
        ),
    )
    dispatcher_service = providers.Singleton(
        Dispatcher,
        repository=incidents,
        notifiers=notifiers,
        clock=clock,
        deadline_s=config.provided.alerts.delivery_deadline_s,
    )
    alerter_service = providers.Singleton(
        Alerter,
        subscriber=alert_subscriber,
        repository=incidents,
        clock=clock,
        sites=providers.Callable(alert_resources.site_alerting, config),
        maintenance=providers.Callable(alert_resources.maintenance, config),
        on_queued=dispatcher_service.provided.wake,
    )
    alerts_switch = providers.Callable(alert_resources.alerts_switch, config)

    # The status page and API: rollups and latest results read from the repository,
    # incidents from the incident repository when alerting is configured.
    status_queries = providers.Singleton(web_resources.status_queries, config, repository)
    web_server = providers.Singleton(
        web_resources.web_server,
        config,
        status_queries,
        providers.Selector(alerts_switch, on=incidents, off=providers.Object(None)),
    )
    web_switch = providers.Callable(web_resources.web_switch, config)
    # ``sitemon-run web`` only reads: the same, over a repository it never migrates.
    read_repository = providers.Selector(
        config.provided.repository,
        sqlite=repository,  # a file: opening it migrates (as standalone, its writer, does)
        postgres=providers.Resource(
            resources.postgres_reader, config, options.provided.startup_wait_s
        ),
    )
    read_incidents = providers.Selector(
        config.provided.repository,
        sqlite=incidents,
        postgres=providers.Resource(alert_resources.postgres_incidents, config, migrate=False),
    )
    read_queries = providers.Singleton(
        web_resources.status_queries, config, read_repository, reader=True
    )
    web_reader = providers.Singleton(
        web_resources.web_server,
        config,
        read_queries,
        providers.Selector(alerts_switch, on=read_incidents, off=providers.Object(None)),
    )

    # The deployment shapes. Services stop in this order: the web server first (no reads
    # of a closing store), then a scanner drains into the bus before the persister (and
    # the alerter) that empty it stop.
    standalone = providers.Dict(
        web=providers.Selector(web_switch, on=web_server, off=providers.Object(None)),
        # What the page lists: a SIGHUP reload hands it the new site list too.
        web_sites=providers.Selector(web_switch, on=status_queries, off=providers.Object(None)),
        catalogue=follower,
        scanner=scanner,
        publisher=publisher,
        checks=check_metrics,
        sites_topic=sites_topic,
        persister=persister,
        alerter=providers.Selector(alerts_switch, on=alerter_service, off=providers.Object(None)),
        dispatcher=providers.Selector(
            alerts_switch, on=dispatcher_service, off=providers.Object(None)
        ),
        retention=retention,
        partitions=partitions,
    )
    # The follower stops first: it leaves the group at once, then the scanner drains.
    producer = providers.Dict(
        catalogue=follower,
        scanner=scanner,
        publisher=publisher,
        checks=check_metrics,
        sites_topic=sites_topic,
    )
    consumer = providers.Dict(
        persister=persister, subscriber=subscriber, retention=retention, partitions=partitions
    )
    alerter = providers.Dict(
        alerter=alerter_service, dispatcher=dispatcher_service, subscriber=alert_subscriber
    )
    web = providers.Dict(web=web_reader, web_sites=read_queries)


def build_container(config: Config, options: RunOptions | None = None) -> Container:
    """A container wired for ``config`` (and the command line's ``options``)."""
    return Container(config=config, options=options or RunOptions())
