"""``producer --workers auto``: every core for a large site list, one process otherwise."""

from __future__ import annotations

import argparse

import attrs
import pytest

from sitemon_cli.auto_workers import (
    AUTO,
    AUTO_MIN_CHECKS_PER_S,
    resolve_workers,
    usable_cores,
    workers_value,
)
from sitemon_cli.config.model import Config
from sitemon_core.models import Site


def _config(sites: int, interval_s: float, source: str = "config") -> Config:
    catalogue = tuple(
        Site.http(id=f"s{i}", url=f"http://127.0.0.1/{i}", interval_s=interval_s, timeout_s=1.0)
        for i in range(sites)
    )
    return Config(source="t.yaml", sites=catalogue, sites_source=source)


def test_a_site_list_offering_enough_checks_gets_every_core() -> None:
    config = _config(int(AUTO_MIN_CHECKS_PER_S) * 10, 10.0)
    assert resolve_workers(AUTO, config, None) == usable_cores()


def test_a_small_site_list_gets_one_process() -> None:
    config = _config(int(AUTO_MIN_CHECKS_PER_S) * 10 - 10, 10.0)
    assert resolve_workers(AUTO, config, None) == 1


def test_a_worker_a_kafka_catalogue_and_an_explicit_count_are_not_automatic() -> None:
    big = _config(int(AUTO_MIN_CHECKS_PER_S) * 2, 1.0)
    assert resolve_workers(AUTO, big, (0, 2)) == 1  # a worker of --workers, or --shard
    assert resolve_workers(AUTO, attrs.evolve(big, sites_source="kafka"), None) == 1
    assert resolve_workers(3, big, None) == 3
    assert resolve_workers(AUTO, None, None) == 1


@pytest.mark.parametrize("text", ["0", "-1", "two", ""])
def test_workers_must_be_a_positive_count_or_auto(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        workers_value(text)
    assert workers_value("auto") == AUTO
    assert workers_value("2") == 2
