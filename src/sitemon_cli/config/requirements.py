"""What a command needs of a valid configuration: sites to check, the prober's driver."""

from __future__ import annotations

import importlib
import sys

from sitemon_cli.config.model import Config
from sitemon_core.errors import ConfigError

# Works from a checkout of this repository (sitemon is not on a package index).
CURL_INSTALL_HINT = "pip install -e '.[curl]'"
# Commands that run a scanner: with no sites it would run and do nothing, silently.
SCANNING_COMMANDS = frozenset({"standalone", "producer"})
NO_SITES = "no sites to check (add some under sites:)"


def require_sites(config: Config, command: str) -> None:
    """Refuse a scanning ``command`` on a config without sites; ``check-config`` warns."""
    if config.sites or config.sites_source == "kafka":
        return
    if command in SCANNING_COMMANDS:
        raise ConfigError(config.source, "sites", NO_SITES)
    if command == "check-config":
        print(f"warning: {ConfigError(config.source, 'sites', NO_SITES)}", file=sys.stderr)


def curl_problem() -> str | None:
    """Why the curl prober cannot run here (pycurl missing or broken), or None."""
    try:
        importlib.import_module("pycurl")
    except ImportError:
        return f"curl needs pycurl, which cannot be imported: {CURL_INSTALL_HINT}"
    return None
