"""The alerting resources the container manages: the incident store and the notifiers.

Each opens its client and closes it on shutdown; drivers are imported inside the function
that needs them (an embedded monitor without alerts never loads any of this).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING

from sitemon_cli.config import Config
from sitemon_cli.config.alerts import AlertSettings, NotifierSpec
from sitemon_core.alerting.maintenance import Maintenance
from sitemon_core.alerting.policy import SiteAlerting
from sitemon_core.alerting.ports import IncidentRepository, Notifier
from sitemon_core.errors import ConfigError
from sitemon_core.ports import Clock

if TYPE_CHECKING:
    from sitemon_adapters.notify.alertmanager import AlertmanagerNotifier
    from sitemon_adapters.notify.slack import SlackNotifier
    from sitemon_adapters.notify.webhook import WebhookNotifier

    AnyNotifier = AlertmanagerNotifier | WebhookNotifier | SlackNotifier


def alert_settings(config: Config) -> AlertSettings:
    """The ``alerts:`` section; a config error when the command needs one and it is absent."""
    if config.alerts is None:
        raise ConfigError(config.source, "alerts", "is required to run the alerter")
    return config.alerts


def alerts_switch(config: Config) -> str:
    """``on`` when the config has an ``alerts:`` section (standalone then alerts too)."""
    return "off" if config.alerts is None else "on"


def site_alerting(config: Config) -> dict[str, SiteAlerting]:
    """What the alerter knows of each configured site (policy, interval, tags)."""
    return alert_settings(config).sites(config.sites)


def maintenance(config: Config) -> Maintenance:
    """The configured maintenance windows."""
    return alert_settings(config).maintenance_windows()


def group_id(config: Config) -> str:
    """The alerter's own consumer group on the results topic."""
    return alert_settings(config).group_id


async def sqlite_incidents(config: Config) -> AsyncIterator[IncidentRepository]:
    """Incidents next to the embedded history, in the same SQLite file."""
    from sitemon_adapters.store.sqlite.incidents import SqliteIncidentRepository

    async with SqliteIncidentRepository(config.sqlite_path) as repository:
        await repository.migrate()
        yield repository


async def postgres_incidents(
    config: Config, *, migrate: bool = True
) -> AsyncIterator[IncidentRepository]:
    """Incidents in PostgreSQL (the same versioned migrations as the history; a reader,
    ``migrate=False``, leaves the schema alone)."""
    from sitemon_adapters.store.postgres.incidents import PostgresIncidentRepository

    settings = config.postgres
    async with PostgresIncidentRepository(
        settings.dsn,
        schema=settings.schema,
        pool_max=2,
        statement_cache_size=settings.statement_cache_size,
    ) as repository:
        if migrate:
            await repository.migrate()
        yield repository


async def notifiers(config: Config, clock: Clock) -> AsyncIterator[dict[str, Notifier]]:
    """Every configured notifier by name, each owning its HTTP session."""
    settings = alert_settings(config)
    async with AsyncExitStack() as stack:
        opened: dict[str, Notifier] = {}
        for spec in settings.notifiers:
            opened[spec.name] = await stack.enter_async_context(
                make_notifier(spec, settings, clock)
            )
        yield opened


def make_notifier(spec: NotifierSpec, settings: AlertSettings, clock: Clock) -> AnyNotifier:
    """The adapter for one configured notifier (not opened yet)."""
    from sitemon_adapters.notify.alertmanager import AlertmanagerNotifier
    from sitemon_adapters.notify.slack import SlackNotifier
    from sitemon_adapters.notify.webhook import WebhookNotifier

    link, timeout_s = settings.link_template, settings.timeout_s
    if spec.kind == "alertmanager":
        return AlertmanagerNotifier(
            spec.urls,
            name=spec.name,
            severity=spec.severity,
            username=spec.username,
            password=spec.password,
            bearer_token=spec.bearer_token,
            resend_every=timedelta(seconds=spec.resend_every_s or 60.0),
            link_template=link,
            timeout_s=timeout_s,
            clock=clock,
        )
    if spec.kind == "webhook":
        return WebhookNotifier(
            spec.urls[0],
            spec.secret or "",
            name=spec.name,
            headers=dict(spec.headers),
            link_template=link,
            timeout_s=timeout_s,
            clock=clock,
        )
    return SlackNotifier(
        spec.urls[0], name=spec.name, link_template=link, timeout_s=timeout_s, clock=clock
    )
