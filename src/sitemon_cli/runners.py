"""The runners: build the container, run a deployment shape's services, shut down."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from sitemon_cli import resources
from sitemon_cli.collector import tune_for_batches
from sitemon_cli.config import Config, load_config, require_sites
from sitemon_cli.container import RunOptions, build_container, shard_sites
from sitemon_cli.lifecycle import Shutdown, resolve, shutdown_resources, signal_handlers
from sitemon_cli.live import format_status_table
from sitemon_cli.metrics import serving_metrics
from sitemon_core.errors import ConfigError
from sitemon_core.models import Site, TcpSpec, TlsSettings
from sitemon_core.scanner import Scanner
from sitemon_core.service import Service, Supervisor, stats_fields

log = logging.getLogger("sitemon.process")

# The shapes that only move batches of results (see ``collector``).
BATCH_SHAPES = frozenset({"consumer"})


async def run_shape(
    config: Config, shape: str, options: RunOptions, shutdown: Shutdown | None = None
) -> int:
    """Run the services of deployment ``shape`` until SIGTERM/SIGINT or one of them ends."""
    container = build_container(config, options)
    shutdown = shutdown or Shutdown()
    parts: dict[str, object] = {}
    # Handlers first and till the end: a SIGTERM while connecting or flushing is a clean stop.
    with signal_handlers(shutdown.stop, shutdown.reload):
        try:
            parts = await resolve_parts(getattr(container, shape))
            if shape in BATCH_SHAPES:
                tune_for_batches()
            supervisor = Supervisor(services_of(parts))
            shutdown.attach(supervisor.request_stop, reloader(config, options, parts))
            async with serving_metrics(config, parts):
                log_started(config, parts)
                await supervisor.run()
        finally:
            await shutdown_resources(container)
            log_adapter_stats(parts)
    return 0


async def resolve_parts(provider: Callable[[], object]) -> dict[str, object]:
    """A shape's parts, its async resources opened; the parts a config leaves out dropped."""
    parts = await resolve(provider)
    assert isinstance(parts, dict)
    return {name: part for name, part in parts.items() if part is not None}


def services_of(parts: Mapping[str, object]) -> dict[str, Service]:
    """The long-running parts, in stop order."""
    return {name: part for name, part in parts.items() if isinstance(part, Service)}


def log_started(config: Config, parts: Mapping[str, object]) -> None:
    """One "<service> started" line per service, with where its data comes from and goes."""
    where = {"bus": config.bus, "repository": config.repository, "config": config.source}
    for name, service in services_of(parts).items():
        describe = getattr(service, "describe", None)
        log.info("%s started", name, extra={**where, **(describe() if describe else {})})
    if "scanner" in parts:
        warn_unverified(config)


def _tls_settings(spec: object) -> TlsSettings | None:
    settings = getattr(spec, "tls_settings" if isinstance(spec, TcpSpec) else "tls", None)
    return settings if isinstance(settings, TlsSettings) else None


def warn_unverified(config: Config) -> None:
    """One warning naming the sites whose certificates are not verified (``verify: false``):
    allowed, but nobody should find out by accident."""
    sites = [
        site.id
        for site in config.sites
        if (tls := _tls_settings(site.spec)) is not None and not tls.verify
    ]
    if sites:
        shown = ", ".join(sites[:20]) + (f" and {len(sites) - 20} more" if len(sites) > 20 else "")
        log.warning(
            "TLS certificates are not verified for %d site(s): %s",
            len(sites),
            shown,
            extra={"sites": sites},
        )


def log_adapter_stats(parts: Mapping[str, object]) -> None:
    """After the adapters are closed (the publisher's final flush included): what they
    delivered and dropped, so every result is accounted for in the logs."""
    services = services_of(parts)
    for name, part in parts.items():
        fields = stats_fields(getattr(part, "stats", None))
        if fields and name not in services:
            log.info("%s stopped", name, extra=fields)


@runtime_checkable
class SiteList(Protocol):
    """What the status page lists: ids, URLs and tags of the configured sites."""

    def set_sites(self, sites: Iterable[Site]) -> None:
        """Replace the listed sites."""
        ...


def reloader(
    config: Config, options: RunOptions, parts: Mapping[str, object]
) -> Callable[[], None] | None:
    """A SIGHUP handler when the shape has a scanner or a status page: apply a valid new
    site list to both (the scanner its shard, the page all), keep the running one on any
    error."""
    scanner = parts.get("scanner")
    scanner = scanner if isinstance(scanner, Scanner) else None
    page = parts.get("web_sites")
    page = page if isinstance(page, SiteList) else None
    if scanner is None and page is None:
        return None
    if config.sites_source == "kafka":
        return lambda: log.info("reload ignored: the sites follow the catalogue topic live")

    def reload() -> None:
        try:
            fresh = load_config(config.source)
        except ConfigError as exc:
            log.error("reload rejected, keeping the running config", extra={"error": str(exc)})
            return
        fields: dict[str, int] = {}
        if scanner is not None:
            change = scanner.set_sites(shard_sites(fresh.sites, options.shard))
            fields = {
                "added": len(change.added),
                "removed": len(change.removed),
                "changed": len(change.changed),
                "sites": len(scanner.sites()),
            }
        if page is not None:
            page.set_sites(fresh.sites)
            fields["listed"] = len(fresh.sites)
        log.info("config reloaded", extra=fields)

    return reload


# A short command (status, migrate) gives up on a database that is down after this long.
SHORT_COMMAND_WAIT_S = 3.0


def require_repository(config: Config, command: str) -> None:
    """Refuse a command that reads or migrates the repository when the config names none:
    a producer's config would otherwise read a stale default ./sitemon.db."""
    if not config.repository_configured:
        raise ConfigError(
            config.source,
            "repository",
            f"missing: {command} needs the repository a persister writes "
            "(use the standalone or consumer config, or add a repository: section)",
        )


async def print_status(config: Config) -> int:
    """``status``: the latest status per site as a table."""
    require_repository(config, "status")
    container = build_container(config, RunOptions(startup_wait_s=SHORT_COMMAND_WAIT_S))
    try:
        repository = await resolve(container.repository)
        print(format_status_table(await repository.latest()))
    finally:
        await shutdown_resources(container)
    return 0


def check_config(path: Path) -> int:
    """``check-config``: validate without starting anything."""
    config = load_config(path)
    require_sites(config, "check-config")  # a warning: a consumer's config has no sites
    print(
        f"{config.source}: ok ({len(config.sites)} sites, bus={config.bus}, "
        f"repository={config.repository})"
    )
    return 0


async def run_setup(config: Config, *, topics: bool) -> int:
    """``init`` (topics + migrations) and ``migrate`` (migrations only)."""
    if topics and config.bus == "kafka":
        created = await resources.create_topics(config.kafka)
        print(f"kafka topics: {', '.join(created) if created else 'already present'}")
    if topics and not config.repository_configured:
        return 0  # a producer's config: topics only
    require_repository(config, "migrate")
    container = build_container(config, RunOptions(startup_wait_s=SHORT_COMMAND_WAIT_S))
    try:
        await resolve(container.repository)  # opening a repository applies its migrations
        print(f"{config.repository} repository: migrated")
    finally:
        await shutdown_resources(container)
    return 0
