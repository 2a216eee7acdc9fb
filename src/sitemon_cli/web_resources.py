"""The web process's parts: the read queries over the configured repository, the server.

``sitemon-run web`` serves from the repository (PostgreSQL in the distributed deployment,
read-only and as many replicas as wanted: it never migrates, see ``resources.postgres_reader``);
``standalone`` serves the same page from its own SQLite file unless ``web.enabled`` is false.
"""

from __future__ import annotations

from sitemon_adapters.web.options import WebAuth, WebOptions
from sitemon_adapters.web.server import WebServer
from sitemon_cli.config import Config
from sitemon_core.alerting.ports import IncidentRepository
from sitemon_core.ports import StatusRepository
from sitemon_core.queries import StatusQueries


def web_switch(config: Config) -> str:
    """``on`` when ``standalone`` serves the page (``web.enabled``, true by default)."""
    return "on" if config.web.enabled else "off"


def status_queries(
    config: Config, repository: StatusRepository, *, reader: bool = False
) -> StatusQueries:
    """The read side of the configured repository, with the configured sites' catalogue.

    A ``reader`` (``sitemon-run web``) did not migrate PostgreSQL: its readiness then also
    requires the schema this release reads."""
    if config.repository == "postgres":
        from sitemon_adapters.store.postgres.queries import postgres_status_queries
        from sitemon_adapters.store.postgres.repository import PostgresStatusRepository

        assert isinstance(repository, PostgresStatusRepository)
        return postgres_status_queries(repository, config.sites, check_schema=reader)
    from sitemon_adapters.store.sqlite.queries import sqlite_status_queries
    from sitemon_adapters.store.sqlite.repository import SqliteStatusRepository

    assert isinstance(repository, SqliteStatusRepository)
    return sqlite_status_queries(repository, config.sites)


def web_options(config: Config) -> WebOptions:
    """The web application's options from the ``web:`` section."""
    settings = config.web
    auth = settings.auth
    return WebOptions(
        auth=None
        if auth is None
        else WebAuth(token=auth.token, username=auth.username, password=auth.password),
        refresh_s=settings.refresh_s,
        page_size=settings.page_size,
        title=settings.title,
    )


def web_server(
    config: Config, queries: StatusQueries, incidents: IncidentRepository | None
) -> WebServer:
    """The status page and API on ``web.listen``; incidents when alerting is configured."""
    host, port = config.web.listen
    return WebServer(
        queries,
        web_options(config),
        host=host,
        port=port,
        source=config.source,
        incident_repository=incidents,
    )
