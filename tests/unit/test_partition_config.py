"""The partitioning, retention and pooler settings: parsed values, defaults, the wiring."""

from __future__ import annotations

from sitemon_cli.config import parse_config
from sitemon_cli.container import build_container, partition_check_every_s
from sitemon_core.partitions import PartitionKeeper

SITES = [{"url": "https://example.com"}]


def test_defaults() -> None:
    config = parse_config("t.yaml", {"sites": SITES})
    assert config.postgres.partition_size_s == 86_400
    assert config.postgres.statement_cache_size == 100
    assert config.history_retention_mode == "drop"
    assert config.rollup_retention_s == 400 * 86_400
    assert partition_check_every_s(config) == 3600


def test_values() -> None:
    repository = {
        "kind": "postgres",
        "postgres": {"partition_size": "2h", "statement_cache_size": 0},
        "history_retention": "30d",
        "history_retention_mode": "detach",
        "rollup_retention": "30d",  # as long as the history: allowed
    }
    config = parse_config("t.yaml", {"sites": SITES, "repository": repository})
    assert config.postgres.partition_size_s == 2 * 3600
    assert config.postgres.statement_cache_size == 0
    assert config.history_retention_mode == "detach"
    assert config.rollup_retention_s == 30 * 86_400
    assert partition_check_every_s(config) == 1800


def test_only_postgres_gets_a_partition_keeper() -> None:
    sqlite = build_container(parse_config("t.yaml", {"sites": SITES}))
    assert sqlite.partitions() is None  # SQLite: one table, no keeper
    assert "partitions" in sqlite.consumer.kwargs and "partitions" in sqlite.standalone.kwargs
    assert sqlite.partitions.providers["postgres"].cls is PartitionKeeper


def test_retention_gets_the_rollup_window() -> None:
    repository = {"history_retention": "30d", "rollup_retention": "60d"}
    container = build_container(parse_config("t.yaml", {"sites": SITES, "repository": repository}))
    kwargs = container.retention.providers["on"].kwargs
    assert (kwargs["keep_s"](), kwargs["rollup_keep_s"]()) == (30 * 86_400, 60 * 86_400)
