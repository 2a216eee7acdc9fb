"""sitemon's configuration: strict YAML into validated settings."""

from sitemon_cli.config.load import load_config, parse_config
from sitemon_cli.config.model import (
    Config,
    KafkaSettings,
    PersisterSettings,
    PostgresSettings,
    ScannerSettings,
)

__all__ = [
    "Config",
    "KafkaSettings",
    "PersisterSettings",
    "PostgresSettings",
    "ScannerSettings",
    "load_config",
    "parse_config",
]
