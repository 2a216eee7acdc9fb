"""The runners: tiny scripts that build the container, run a use case, and shut down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from sitemon_cli import resources
from sitemon_cli.config import Config, load_config
from sitemon_cli.container import build_container
from sitemon_cli.lifecycle import Shutdown, resolve, signal_handlers
from sitemon_cli.live import format_status_table, log_check
from sitemon_cli.metrics import MetricsEndpoint, fan_out, metrics_for
from sitemon_core.errors import ConfigError
from sitemon_core.models import Site
from sitemon_core.persister import Persister
from sitemon_core.retention import HistoryRetention
from sitemon_core.scanner import Scanner
from sitemon_core.sharding import select_shard

log = logging.getLogger("sitemon.process")


def shard_sites(sites: tuple[Site, ...], shard: tuple[int, int] | None) -> list[Site]:
    """The sites this scanner owns (all of them when not sharded)."""
    return list(sites) if shard is None else select_shard(sites, *shard)


def _reloader(
    config: Config, scanner: Scanner, shard: tuple[int, int] | None
) -> Callable[[], None]:
    """A SIGHUP handler: apply a valid new site list, keep the old one on any error."""

    def reload() -> None:
        try:
            fresh = load_config(config.source)
        except ConfigError as exc:
            log.error("reload rejected, keeping the running config", extra={"error": str(exc)})
            return
        change = scanner.set_sites(shard_sites(fresh.sites, shard))
        log.info(
            "config reloaded",
            extra={
                "added": len(change.added),
                "removed": len(change.removed),
                "changed": len(change.changed),
                "sites": len(scanner.sites()),
            },
        )

    return reload


async def run_scanner_process(
    config: Config,
    *,
    with_persister: bool,
    shard: tuple[int, int] | None = None,
    quiet: bool = False,
    stop_after_s: float | None = None,
    show_table: bool = False,
) -> int:
    """``producer`` (scanner only) or ``standalone`` (scanner + persister in one process).

    ``stop_after_s`` stops by itself after that long; ``show_table`` prints the status
    table when done (the demo uses both).
    """
    container = build_container(config)
    metrics = metrics_for(config, checks=True)
    observers = [] if quiet else [log_check]
    if metrics is not None and metrics.checks is not None:
        observers.append(metrics.checks.observe)
    if observers:
        container.scanner.add_kwargs(observer=fan_out(*observers))
    publisher: object = None
    shutdown = Shutdown()
    retention = _Retention()
    # Signal handlers first (a SIGTERM while connecting must not kill the process) and
    # until the end (nor one while the publisher flushes).
    with signal_handlers(shutdown.stop, shutdown.reload):
        try:
            scanner: Scanner = await resolve(container.scanner)
            publisher = await resolve(container.publisher)
            persister: Persister | None = (
                await resolve(container.persister) if with_persister else None
            )
            sites = shard_sites(config.sites, shard)
            scanner.set_sites(sites)
            log.info(
                "scanner started",
                extra={
                    "sites": len(sites),
                    "bus": config.bus,
                    "region": config.scanner.region,
                    "config": config.source,
                },
            )
            shutdown.attach(scanner.request_stop, _reloader(config, scanner, shard))
            persisting = asyncio.create_task(persister.run_persister()) if persister else None
            if persister is not None:
                await retention.start(container, config)
            if metrics is not None:
                metrics.add_gauge("sites", lambda: len(scanner.sites()))
                await _expose(
                    metrics,
                    container,
                    retention,
                    "scanner",
                    "publisher",
                    *(["persister"] if persister else []),
                )
            if stop_after_s is not None:
                asyncio.get_running_loop().call_later(stop_after_s, scanner.request_stop)
            stats = await scanner.run_scanner(config.scanner.shutdown_grace_s)
            if persister is not None and persisting is not None:
                persister.request_stop(drain=True)
                await persisting
            await retention.stop()
            log.info("scanner stopped", extra=_fields(stats))
            if show_table:
                repository = await resolve(container.repository)
                print(format_status_table(await repository.latest()))
        finally:
            await retention.stop()  # a no-op unless something above failed
            if metrics is not None:
                await metrics.stop()
            await container.shutdown_resources()
            _log_publisher_stats(publisher)
    return 0


class _Retention:
    """The history retention loop beside a persister, when the config asks for one."""

    def __init__(self) -> None:
        self._retention: HistoryRetention | None = None
        self._task: asyncio.Task[object] | None = None

    @property
    def loop(self) -> HistoryRetention | None:
        """The retention use case, once started."""
        return self._retention

    async def start(self, container: Any, config: Config) -> None:
        if config.history_retention_s is not None:
            self._retention = await resolve(container.retention)
            self._task = asyncio.create_task(self._retention.run_retention())

    async def stop(self) -> None:
        retention, task, self._task = self._retention, self._task, None
        if retention is not None and task is not None:
            retention.request_stop()
            (outcome,) = await asyncio.gather(task, return_exceptions=True)
            if isinstance(outcome, BaseException):
                log.error("history retention failed", exc_info=outcome)
            log.info("retention stopped", extra=_fields(retention.stats))


def _log_publisher_stats(publisher: object) -> None:
    """After the publisher is closed (its final flush included): what the bus adapter
    delivered and dropped, so every result is accounted for in the producer's logs."""
    stats = getattr(publisher, "stats", None)
    if stats is not None and attrs.has(type(stats)):
        log.info("publisher stopped", extra=_fields(stats))


async def run_consumer_process(config: Config) -> int:
    """``consumer``: receive → save → acknowledge until SIGTERM/SIGINT."""
    container = build_container(config)
    metrics = metrics_for(config, checks=False)
    shutdown = Shutdown()
    retention = _Retention()
    with signal_handlers(shutdown.stop):
        try:
            persister: Persister = await resolve(container.persister)
            log.info(
                "persister started", extra={"bus": config.bus, "repository": config.repository}
            )
            shutdown.attach(persister.request_stop)
            await retention.start(container, config)
            if metrics is not None:
                await _expose(metrics, container, retention, "persister", "subscriber")
            stats = await persister.run_persister()
            await retention.stop()
            log.info("persister stopped", extra=_fields(stats))
        finally:
            await retention.stop()  # a no-op unless something above failed
            if metrics is not None:
                await metrics.stop()
            await container.shutdown_resources()
    return 0


async def _expose(
    metrics: MetricsEndpoint, container: Any, retention: _Retention, *parts: str
) -> None:
    if retention.loop is not None:
        metrics.add_stats("retention", retention.loop)
    await metrics.expose(container, *parts)


async def print_status(config: Config) -> int:
    """``status``: the latest status per site as a table."""
    container = build_container(config)
    try:
        repository = await resolve(container.repository)
        print(format_status_table(await repository.latest()))
    finally:
        await container.shutdown_resources()
    return 0


def check_config(path: Path) -> int:
    """``check-config``: validate without starting anything."""
    config = load_config(path)
    print(
        f"{config.source}: ok ({len(config.sites)} sites, bus={config.bus}, "
        f"repository={config.repository})"
    )
    return 0


def _fields(stats: object) -> dict[str, object]:
    return attrs.asdict(stats)  # type: ignore[arg-type]


async def run_setup(config: Config, *, topics: bool) -> int:
    """``init`` (topics + migrations) and ``migrate`` (migrations only)."""
    if topics and config.bus == "kafka":
        created = await resources.create_topics(config.kafka)
        print(f"kafka topics: {', '.join(created) if created else 'already present'}")
    container = build_container(config)
    try:
        await resolve(container.repository)  # opening a repository applies its migrations
        print(f"{config.repository} repository: migrated")
    finally:
        await container.shutdown_resources()
    return 0
