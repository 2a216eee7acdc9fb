"""The validated configuration of a sitemon process."""

from __future__ import annotations

import attrs

from sitemon_adapters.bus.kafka.connection import KafkaConnection
from sitemon_cli.config.alerts import AlertSettings
from sitemon_cli.config.web import WebSettings
from sitemon_core.models import Site


@attrs.frozen(kw_only=True)
class ScannerSettings:
    """How the scanner schedules and bounds its checks."""

    region: str = "local"
    prober: str = "aiohttp"
    max_concurrency: int = 256
    start_jitter_s: float | None = None
    shutdown_grace_s: float = 5.0
    user_agent: str = "sitemon/dev (local)"  # the loader: sitemon/<version> (<region>)
    # Cache resolved addresses this many whole seconds (saves ~200 µs CPU per check); the
    # default, None, resolves on every check so dns_ms and DNS failures are real.
    dns_cache_ttl_s: int | None = None


DEFAULT_KAFKA = KafkaConnection(bootstrap_servers="127.0.0.1:9092")


@attrs.frozen(kw_only=True)
class KafkaSettings:
    """Where and how to reach Kafka. Secrets come from ``${ENV}`` references or files.

    ``connection`` (servers, TLS files, SASL credentials) is the adapter's own type, built
    by the loader from the same keys of the ``bus.kafka`` section.
    """

    connection: KafkaConnection = DEFAULT_KAFKA
    topic: str = "sitemon.check-results"
    dead_letter_topic: str = "sitemon.check-results.dlq"
    group_id: str = "sitemon-persister"
    partitions: int = 6
    replication_factor: int = 1
    max_buffered: int = 100_000
    # How long the group waits for a silent consumer before moving its partitions: the
    # failover time after a consumer dies. Kafka brokers accept 6 s to 30 min by default.
    session_timeout_s: float = 10.0
    # The site catalogue (``sites: {source: kafka}``, ``sites apply``): a compacted topic.
    sites_topic: str = "sitemon.sites"
    sites_partitions: int = 12


@attrs.frozen(kw_only=True)
class PostgresSettings:
    """How to reach PostgreSQL. The DSN may carry ``sslmode`` and a password from the env."""

    dsn: str = attrs.field(default="postgresql://sitemon@127.0.0.1:5432/sitemon", repr=False)
    schema: str = "public"
    pool_min: int = 1
    pool_max: int = 4
    # History partitions: one per day by default (whole hours dividing a day).
    partition_size_s: int = 86_400
    # asyncpg's prepared-statement cache; 0 behind PgBouncer in transaction mode.
    statement_cache_size: int = 100


@attrs.frozen(kw_only=True)
class PersisterSettings:
    """How the persister batches."""

    batch_size: int = 5000
    poll_timeout_s: float = 0.5
    max_in_flight: int = 2


@attrs.frozen(kw_only=True)
class Config:
    """Everything one sitemon process needs. ``source`` is the file it came from."""

    source: str
    sites: tuple[Site, ...]
    sites_source: str = "config"  # "kafka": the catalogue topic, shared by partition
    scanner: ScannerSettings = ScannerSettings()
    persister: PersisterSettings = PersisterSettings()
    bus: str = "memory"
    repository: str = "sqlite"
    repository_configured: bool = False  # the file has a repository: section (not a default)
    sqlite_path: str = "sitemon.db"
    history_retention_s: float | None = None  # keep history this long; None: forever
    # PostgreSQL: drop the partitions past the window, or detach them (kept as tables).
    history_retention_mode: str = "drop"
    # Rollups (once stored) outlive the raw history: a year of uptime stays queryable.
    rollup_retention_s: float = 400 * 86_400.0
    kafka: KafkaSettings = KafkaSettings()
    postgres: PostgresSettings = PostgresSettings()
    log_format: str = "human"
    log_level: str = "info"
    # Which checks get a log line at INFO: all, changes (of a site's outcome), none.
    log_checks: str = "changes"
    metrics_listen: tuple[str, int] | None = None  # serve /metrics here; None: off
    alerts: AlertSettings | None = None  # the alerts: section; None: no alerting
    web: WebSettings = attrs.field(factory=WebSettings)  # the status page and API

    @property
    def history_prune_every_s(self) -> float:
        """How often retention runs: a tenth of the window, between 1 s and 10 min."""
        keep = self.history_retention_s or 0.0
        return min(600.0, max(1.0, keep / 10))
