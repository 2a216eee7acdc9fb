"""Every config file the repository ships passes ``check-config`` (exit 0) as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitemon_cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*(ROOT / "example_config").glob("*.yaml"), *(ROOT / "compose").glob("*.yaml")])


def test_the_shipped_configs_are_found() -> None:
    names = {path.name for path in SHIPPED}
    assert {"sitemon.yaml", "producer.yaml", "consumer.yaml"} <= names
    assert len(SHIPPED) == 6  # example_config: sitemon, producer, consumer, alerter; compose: 2


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_config_passes_check_config(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # compose's configs take their endpoints from the environment with no default, as
    # docker compose provides them.
    monkeypatch.setenv("SITEMON_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("SITEMON_PG_DSN", "postgresql://sitemon:sitemon@postgres:5432/sitemon")
    code = main(["check-config", "-c", str(path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith(f"{path}: ok ("), captured.out
