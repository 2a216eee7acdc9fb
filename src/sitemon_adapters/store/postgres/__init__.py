"""PostgreSQL adapter: ``PostgresStatusRepository`` and its schema migrations.

Two queries worth knowing when looking at the data by hand (psql, Grafana...):
``LATEST_STATUS_SQL`` and ``RESPONSE_TIMES_SQL`` below.

The driver (asyncpg) loads on first use of a name that needs it, so the configuration
loader can use ``dsn`` without loading it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sitemon_adapters.store.postgres.migrations import apply_migrations, load_migrations
    from sitemon_adapters.store.postgres.repository import PostgresStatusRepository

_LAZY = {
    "PostgresStatusRepository": "repository",
    "apply_migrations": "migrations",
    "load_migrations": "migrations",
}


def __getattr__(name: str) -> Any:
    """The driver-backed names, imported when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


# The latest status of every site (one row per site, kept current by the persisters).
LATEST_STATUS_SQL = """\
SELECT site_id, ok, status_code, error_kind, round(total_ms::numeric, 1) AS total_ms,
       started_at, region, url, error_message
FROM site_status
ORDER BY site_id;"""

# One site's response times over the last hour, newest first ($1: the site id; in psql
# replace it with a literal such as 'example-home').
RESPONSE_TIMES_SQL = """\
SELECT started_at, region, ok, status_code, total_ms,
       dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms
FROM check_history
WHERE site_id = $1 AND started_at >= now() - interval '1 hour'
ORDER BY started_at DESC;"""

__all__ = [
    "LATEST_STATUS_SQL",
    "RESPONSE_TIMES_SQL",
    "PostgresStatusRepository",
    "apply_migrations",
    "load_migrations",
]
