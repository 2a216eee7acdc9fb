"""Every key a configuration file may hold, by section: the loader allows exactly these,
and the README's configuration reference lists each (a test keeps the two equal)."""

from __future__ import annotations

import attrs

from sitemon_adapters.bus.kafka.connection import KafkaConnection
from sitemon_cli.config import web
from sitemon_cli.config.model import KafkaSettings
from sitemon_cli.config.sites import DEFAULT_KEYS, SITE_KEYS, SOURCE_KEYS

_KAFKA_FILE_KEYS = {"ssl_password_file", "sasl_password_file"}
# The topic/group settings and the connection's own fields sit side by side under bus.kafka.
KAFKA_KEYS = (
    set(attrs.fields_dict(KafkaSettings)) - {"connection", "session_timeout_s"}
    | set(attrs.fields_dict(KafkaConnection))
    | {"session_timeout"}
    | _KAFKA_FILE_KEYS
)

# Section path -> its keys. "" is the top level; "sites[]" is each item of ``sites`` when it
# is a list, "sites" its keys when it is a mapping (``{source: kafka}``).
SECTION_KEYS: dict[str, set[str]] = {
    "": {
        "sites",
        "defaults",
        "scanner",
        "persister",
        "bus",
        "repository",
        "logging",
        "metrics",
        "alerts",
        "web",
    },
    "sites": SOURCE_KEYS,
    "sites[]": SITE_KEYS,
    "defaults": DEFAULT_KEYS,
    "scanner": {
        "region",
        "prober",
        "max_concurrency",
        "start_jitter",
        "shutdown_grace",
        "user_agent",
        "dns_cache_ttl",
    },
    "persister": {"batch_size", "poll_timeout", "max_in_flight"},
    "bus": {"kind", "kafka"},
    "bus.kafka": KAFKA_KEYS,
    "repository": {
        "kind",
        "sqlite",
        "postgres",
        "history_retention",
        "history_retention_mode",
        "rollup_retention",
    },
    "repository.sqlite": {"path"},
    "repository.postgres": {
        "dsn",
        "dsn_file",
        "schema",
        "pool_min",
        "pool_max",
        "partition_size",
        "statement_cache_size",
    },
    "logging": {"checks", "format", "level"},
    "metrics": {"listen"},
    "web": web.KEYS,
    "web.auth": web.AUTH_KEYS,
}


def leaf_keys() -> list[str]:
    """The full path of every key that holds a value (not a section): ``bus.kafka.topic``."""
    leaves = []
    for section, names in SECTION_KEYS.items():
        for name in names:
            path = f"{section}.{name}" if section else name
            if path not in SECTION_KEYS and not (section == "" and name == "sites"):
                leaves.append(path)
    return sorted(leaves)
