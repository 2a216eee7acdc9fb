"""What the container sets for a small embedded deployment: the scanner's wake gap and each
memory-bus subscriber's linger (see the constants in ``sitemon_cli.container``)."""

from __future__ import annotations

from pathlib import Path

from sitemon_adapters.bus.memory import InMemoryStatusSubscriber
from sitemon_cli.config import Config, parse_config
from sitemon_cli.container import (
    ALERTER_LINGER_S,
    PERSISTER_LINGER_S,
    SCANNER_WAKE_GAP_S,
    build_container,
)
from sitemon_cli.lifecycle import shutdown_resources
from sitemon_core.scanner import Scanner


def config(tmp_path: Path) -> Config:
    document = {
        "sites": [{"id": "shop", "url": "https://shop.example/"}],
        "repository": {"kind": "sqlite", "sqlite": {"path": str(tmp_path / "t.db")}},
    }
    return parse_config("t.yaml", document)


async def test_the_persister_lingers_longer_than_the_alerter(tmp_path: Path) -> None:
    container = build_container(config(tmp_path))
    try:
        persister, alerter = container.subscriber(), container.alert_subscriber()
        assert isinstance(persister, InMemoryStatusSubscriber)
        assert isinstance(alerter, InMemoryStatusSubscriber)
        assert (persister.group, persister.linger_s) == ("persister", PERSISTER_LINGER_S)
        assert (alerter.group, alerter.linger_s) == ("alerter", ALERTER_LINGER_S)
        assert 0 < ALERTER_LINGER_S < PERSISTER_LINGER_S <= 1.0
    finally:
        await shutdown_resources(container)


async def test_the_scanner_wakes_at_most_every_gap(tmp_path: Path) -> None:
    container = build_container(config(tmp_path))
    try:
        scanner = await container.scanner()  # the prober is an async resource
        assert isinstance(scanner, Scanner)
        assert scanner.min_wake_gap_s == SCANNER_WAKE_GAP_S == 0.1
    finally:
        await shutdown_resources(container)
