"""Short commands (status, migrate) say what is wrong at once: a config without a repository
is an error naming the key, and a database that is down fails within seconds, not a minute."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sitemon_cli.main import main

PRODUCER = {
    "sites": [{"url": "https://example.com/"}],
    "bus": {"kind": "kafka", "kafka": {"bootstrap_servers": "127.0.0.1:9"}},
}


def write(tmp_path: Path, document: dict[str, object]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("command", ["status", "migrate"])
def test_a_config_without_a_repository_is_refused(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, PRODUCER)
    assert main([command, "-c", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"config error: {path}: repository: missing: {command} needs the repository a "
        "persister writes (use the standalone or consumer config, or add a repository: section)"
    )


def test_status_reads_an_explicit_sqlite_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    path = write(tmp_path, {"repository": {"kind": "sqlite", "sqlite": {"path": str(db)}}})
    assert main(["status", "-c", str(path)]) == 0
    assert capsys.readouterr().out.startswith("SITE")


def test_status_against_a_database_that_is_down_fails_within_seconds(
    tmp_path: Path, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = f"postgresql://sitemon@127.0.0.1:{closed_port}/sitemon"
    path = write(tmp_path, {"repository": {"kind": "postgres", "postgres": {"dsn": dsn}}})
    began = time.monotonic()
    assert main(["status", "-c", str(path)]) == 1
    elapsed = time.monotonic() - began
    assert elapsed < 15, elapsed  # services wait up to 60 s; a short command gives up at 3 s
    assert "refused" in capsys.readouterr().err.lower()
