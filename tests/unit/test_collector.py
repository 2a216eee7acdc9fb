"""The collector tuning a batch-moving process (the consumer) applies after start-up."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from sitemon_cli.collector import YOUNG_THRESHOLD, tune_for_batches


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_start_up_objects_are_frozen_and_young_collections_are_rarer() -> None:
    _, older, oldest = gc.get_threshold()
    start_up = [{"site": n} for n in range(1000)]
    tune_for_batches()
    assert gc.get_freeze_count() >= len(start_up)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, older, oldest)


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.mark.usefixtures("restored_collector")
def test_cycles_made_after_tuning_are_still_collected() -> None:
    tune_for_batches(young_threshold=100)
    nodes = [_Node() for _ in range(10)]
    refs = [weakref.ref(node) for node in nodes]
    del nodes
    # New container objects fill the young generation again and again: the nodes, promoted
    # or not, meet a collection of their generation.
    for _ in range(1000):
        _ = [[] for _ in range(100)]
    assert all(ref() is None for ref in refs)
