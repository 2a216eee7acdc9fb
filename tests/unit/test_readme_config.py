"""The README's configuration reference lists exactly the keys the loader accepts, each with
its default, and the defaults it states are the loader's."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path
from typing import Any

import pytest

from sitemon_cli.config import Config, parse_config
from sitemon_cli.config.keys import SECTION_KEYS, leaf_keys

README = Path(__file__).parent.parent.parent / "README.md"
ROW = re.compile(r"^\| `([^`]+)` \| ([^|]+?) \|(?: ([^|]+?) \|)? [^|]+ \|$")


def configuration_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Configuration\n")
    return text[start : text.index("\n## ", start + 1)]


def reference() -> dict[str, tuple[str, str | None]]:
    """key path -> (default cell, "in defaults" cell or None) of every reference row."""
    rows: dict[str, tuple[str, str | None]] = {}
    for line in configuration_section().splitlines():
        match = ROW.match(line)
        if match:
            path, default, in_defaults = match.groups()
            assert path not in rows, f"{path} is listed twice"
            rows[path] = (default.strip(), in_defaults)
    return rows


def test_every_key_the_loader_accepts_is_listed_and_nothing_else() -> None:
    listed = set(reference())
    sites_and_defaults = {k for k in leaf_keys() if not k.startswith("defaults.")}
    assert listed == sites_and_defaults


def test_every_listed_key_has_a_default() -> None:
    assert all(default for default, _ in reference().values())


def test_the_defaults_column_is_the_keys_defaults_accepts() -> None:
    marked = {
        path.removeprefix("sites[].")
        for path, (_, in_defaults) in reference().items()
        if in_defaults is not None and in_defaults.strip() == "yes"
    }
    assert marked == SECTION_KEYS["defaults"]


SITE = {"sites": [{"url": "https://example.com/"}]}
# README key -> where the loader puts it, for the defaults that are one plain value.
VALUES: dict[str, Any] = {
    "scanner.region": lambda c: c.scanner.region,
    "scanner.prober": lambda c: c.scanner.prober,
    "scanner.max_concurrency": lambda c: c.scanner.max_concurrency,
    "scanner.user_agent": lambda c: c.scanner.user_agent.replace(
        f"/{importlib.metadata.version('sitemon')} ", "/<version> "
    ).replace(f"({c.scanner.region})", "(<region>)"),
    "persister.batch_size": lambda c: c.persister.batch_size,
    "persister.max_in_flight": lambda c: c.persister.max_in_flight,
    "bus.kind": lambda c: c.bus,
    "bus.kafka.bootstrap_servers": lambda c: c.kafka.connection.bootstrap_servers,
    "bus.kafka.topic": lambda c: c.kafka.topic,
    "bus.kafka.dead_letter_topic": lambda c: c.kafka.dead_letter_topic,
    "bus.kafka.group_id": lambda c: c.kafka.group_id,
    "bus.kafka.client_id": lambda c: c.kafka.connection.client_id,
    "bus.kafka.partitions": lambda c: c.kafka.partitions,
    "bus.kafka.replication_factor": lambda c: c.kafka.replication_factor,
    "bus.kafka.max_buffered": lambda c: c.kafka.max_buffered,
    "bus.kafka.sites_topic": lambda c: c.kafka.sites_topic,
    "bus.kafka.sites_partitions": lambda c: c.kafka.sites_partitions,
    "bus.kafka.security_protocol": lambda c: c.kafka.connection.security_protocol,
    "repository.kind": lambda c: c.repository,
    "repository.sqlite.path": lambda c: c.sqlite_path,
    "repository.postgres.dsn": lambda c: c.postgres.dsn,
    "repository.postgres.schema": lambda c: c.postgres.schema,
    "repository.postgres.pool_min": lambda c: c.postgres.pool_min,
    "repository.postgres.pool_max": lambda c: c.postgres.pool_max,
    "logging.format": lambda c: c.log_format,
    "logging.level": lambda c: c.log_level,
    "sites[].method": lambda c: c.sites[0].spec.method,
    "sites[].follow_redirects": lambda c: c.sites[0].spec.follow_redirects,
    "sites[].max_redirects": lambda c: c.sites[0].spec.max_redirects,
    "sites[].max_body_bytes": lambda c: c.sites[0].spec.max_body_bytes,
    "sites[].interval": lambda c: c.sites[0].interval_s,
    "sites[].timeout": lambda c: c.sites[0].timeout_s,
    "scanner.shutdown_grace": lambda c: c.scanner.shutdown_grace_s,
    "persister.poll_timeout": lambda c: c.persister.poll_timeout_s,
    "bus.kafka.session_timeout": lambda c: c.kafka.session_timeout_s,
    "web.enabled": lambda c: c.web.enabled,
    "web.listen": lambda c: f"{c.web.listen[0]}:{c.web.listen[1]}",
    "web.refresh": lambda c: c.web.refresh_s,
    "web.page_size": lambda c: c.web.page_size,
    "web.title": lambda c: c.web.title,
}


@pytest.mark.parametrize("path", VALUES)
def test_the_stated_default_is_the_loaders(path: str) -> None:
    config: Config = parse_config("c.yaml", SITE)
    stated = reference()[path][0].split("`")[1]  # the first `value` of the cell
    parsed = parse_config("c.yaml", _with(path, stated)) if path.endswith(_DURATIONS) else None
    actual = VALUES[path](config)
    if parsed is not None:  # a duration: written with a unit, compared in seconds
        assert VALUES[path](parsed) == actual
    else:
        assert stated == (str(actual).lower() if isinstance(actual, bool) else str(actual))


_DURATIONS = (
    "interval",
    "timeout",
    "shutdown_grace",
    "poll_timeout",
    "session_timeout",
    "refresh",
)


def _with(path: str, value: str) -> dict[str, Any]:
    """The site document with ``path`` set to ``value`` (as YAML would give it)."""
    *sections, name = path.replace("sites[]", "sites").split(".")
    document: dict[str, Any] = {"sites": [{"url": "https://example.com/"}]}
    node = document["sites"][0] if sections == ["sites"] else document
    for section in [] if sections == ["sites"] else sections:
        node = node.setdefault(section, {})
    node[name] = value
    return document
