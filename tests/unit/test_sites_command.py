"""``sites apply`` output and the ``sites`` config forms (the Kafka side is in tests/e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitemon_cli.catalogue import format_diff, inert
from sitemon_cli.config import parse_config
from sitemon_cli.main import main
from sitemon_core.catalogue import diff_catalogue
from sitemon_core.models import Site


def _site(i: str, interval: float = 10, **kw: object) -> Site:
    return Site.http(id=i, url=f"http://x.test/{i}", interval_s=interval, timeout_s=1, **kw)  # type: ignore[arg-type]


def test_the_diff_lists_added_changed_removed_and_a_summary() -> None:
    current = {"a": _site("a"), "b": _site("b"), "c": _site("c")}
    diff = diff_catalogue(current, [_site("a"), _site("b", 30), _site("d", tags=frozenset({"t"}))])
    assert format_diff(diff) == [
        "+ d  http  every 10s  http://x.test/d  [t]",
        "~ b  http  every 30s  http://x.test/b",
        "- c",
        "1 added, 1 changed, 1 removed",
    ]


def test_hostile_text_from_the_topic_prints_inert() -> None:
    assert inert("a\x1b[31mred\x00\n") == "a\\x1b[31mred\\x00\\x0a"


def test_sites_may_name_the_kafka_source_instead_of_a_list() -> None:
    config = parse_config("t.yaml", {"sites": {"source": "kafka"}})
    assert (config.sites_source, config.sites) == ("kafka", ())
    assert parse_config("t.yaml", {"sites": [{"url": "http://x.test/"}]}).sites_source == "config"


def test_shard_cannot_split_a_kafka_catalogue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("sites: {source: kafka}\nbus: {kind: kafka}\n", encoding="utf-8")
    assert main(["producer", "-c", str(path), "--shard", "0/2"]) == 2
    assert "--shard: cannot be combined with sites: {source: kafka}" in capsys.readouterr().err


def test_sites_apply_needs_a_list_of_sites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("sites: {source: kafka}\n", encoding="utf-8")
    assert main(["sites", "apply", "-c", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"config error: {path}: sites: sites apply needs a list of sites"
    )
