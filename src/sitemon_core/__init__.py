"""sitemon's domain core: models, ports and use cases. Imports no driver.

Use it from other tooling::

    from sitemon_core import Site, Scanner, Persister
"""

from sitemon_core.errors import (
    ConfigError,
    PublishError,
    RepositoryError,
    SitemonError,
    SubscriberError,
)
from sitemon_core.models import (
    CheckResult,
    ErrorKind,
    HttpSpec,
    PhaseTimings,
    ProbeSpec,
    Site,
    SiteStatus,
    judge,
)
from sitemon_core.persister import Backoff, Persister, PersisterStats
from sitemon_core.ports import (
    Batch,
    Clock,
    SiteProber,
    StatusPublisher,
    StatusRepository,
    StatusSubscriber,
)
from sitemon_core.scanner import CatalogueChange, Scanner, ScannerStats
from sitemon_core.schedule import Schedule
from sitemon_core.sharding import select_shard, shard_of

__all__ = [
    "Backoff",
    "Batch",
    "CatalogueChange",
    "CheckResult",
    "Clock",
    "ConfigError",
    "ErrorKind",
    "HttpSpec",
    "Persister",
    "PersisterStats",
    "PhaseTimings",
    "ProbeSpec",
    "PublishError",
    "RepositoryError",
    "Scanner",
    "ScannerStats",
    "Schedule",
    "Site",
    "SiteProber",
    "SiteStatus",
    "SitemonError",
    "StatusPublisher",
    "StatusRepository",
    "StatusSubscriber",
    "SubscriberError",
    "judge",
    "select_shard",
    "shard_of",
]
