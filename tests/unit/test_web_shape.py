"""The ``web`` part as the container builds it: over the configured repository's read side,
with incidents only when alerting is configured, first in ``standalone`` only when enabled."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sitemon_adapters.store.rollup_queries import RollupStatusQueries
from sitemon_adapters.web.incidents import INCIDENTS
from sitemon_adapters.web.server import WebServer
from sitemon_cli.config import Config, parse_config
from sitemon_cli.container import build_container
from sitemon_cli.lifecycle import shutdown_resources
from sitemon_cli.runners import resolve_parts


def config(tmp_path: Path, **sections: Any) -> Config:
    document = {
        "sites": [{"id": "shop", "url": "https://shop.example/", "tags": ["prod"]}],
        "repository": {"kind": "sqlite", "sqlite": {"path": str(tmp_path / "w.db")}},
        **sections,
    }
    return parse_config("w.yaml", document)


async def parts_of(cfg: Config, shape: str) -> dict[str, object]:
    container = build_container(cfg)
    try:
        return await resolve_parts(getattr(container, shape))
    finally:
        await shutdown_resources(container)


async def test_web_serves_the_repository_read_side_without_incidents(tmp_path: Path) -> None:
    parts = await parts_of(config(tmp_path, web={"listen": "127.0.0.1:18080"}), "web")
    server = parts["web"]
    assert isinstance(server, WebServer)
    assert (server.host, server.port) == ("127.0.0.1", 18080)
    assert server.app[INCIDENTS] is None


async def test_web_reads_incidents_when_alerting_is_configured(tmp_path: Path) -> None:
    cfg = config(tmp_path, alerts={"regions": ["local"]})
    server = (await parts_of(cfg, "web"))["web"]
    assert isinstance(server, WebServer)
    assert server.app[INCIDENTS] is not None


@pytest.mark.parametrize("enabled", [True, False])
async def test_standalone_runs_the_web_server_first_only_when_enabled(
    tmp_path: Path, enabled: bool
) -> None:
    parts = await parts_of(config(tmp_path, web={"enabled": enabled}), "standalone")
    assert (next(iter(parts)) == "web") is enabled
    assert ("web" in parts) is enabled


async def test_the_read_side_knows_the_configured_catalogue(tmp_path: Path) -> None:
    container = build_container(config(tmp_path))
    try:
        queries = await container.status_queries()
        assert isinstance(queries, RollupStatusQueries)
        summary = await queries.site("shop", now=datetime.now(UTC))
        assert summary is not None and summary.tags == frozenset({"prod"})
    finally:
        await shutdown_resources(container)
