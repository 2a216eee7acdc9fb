"""sitemon's configuration: strict YAML into validated settings."""

from sitemon_cli.config.load import load_config, parse_config
from sitemon_cli.config.model import (
    Config,
    KafkaSettings,
    PersisterSettings,
    PostgresSettings,
    ScannerSettings,
)
from sitemon_cli.config.requirements import CURL_INSTALL_HINT, curl_problem, require_sites

__all__ = [
    "CURL_INSTALL_HINT",
    "Config",
    "KafkaSettings",
    "PersisterSettings",
    "PostgresSettings",
    "ScannerSettings",
    "curl_problem",
    "load_config",
    "parse_config",
    "require_sites",
]
