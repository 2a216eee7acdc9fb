"""``producer --workers auto`` (its default): one process per core when the sites need it.

A scanner process uses one core. With a site list in the config, N producer processes on
disjoint ``--shard k/N`` shards share nothing (each checks its sites and publishes to
Kafka), so using every core is safe; it is worth it once the list offers more checks a
second than a process does comfortably (``AUTO_MIN_CHECKS_PER_S``: an aiohttp scanner
starts ~1,200-1,800 checks a second flat out on one core of the reference box, and starts
them on time only with room to spare). Below that, one process: a second one would double
the fixed cost (timers, a Kafka producer, ~50 MB) for nothing.

Not automatic:
- ``standalone`` (the embedded shape): its workers would each run a persister writing the
  same SQLite file. SQLite has one writer at a time (WAL, ``BEGIN IMMEDIATE``, a 5 s busy
  timeout), so the writes do not scale with processes and every worker waits for the
  others' transactions, and each worker would also run migrations, retention and the
  rollup fold on the shared file at start and on its own timers. ``--workers N`` still
  runs N (each result is stored once: the shards are disjoint), on purpose only.
- ``sites: {source: kafka}``: the catalogue's size is known only once partitions are
  assigned; pass ``--workers N``.
- a process started with ``--shard`` (by hand, or as a worker of ``--workers``).
"""

from __future__ import annotations

import argparse
import os

from sitemon_cli.config.model import Config

AUTO = "auto"
AUTO_MIN_CHECKS_PER_S = 500.0


def workers_value(text: str) -> int | str:
    """``--workers``: a positive count or ``auto``."""
    if text == AUTO:
        return AUTO
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or auto, got {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {count}")
    return count


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def offered_checks_per_s(config: Config) -> float:
    """Checks a second the config's site list asks for."""
    return sum(1.0 / site.interval_s for site in config.sites)


def resolve_workers(requested: int | str, config: Config | None, shard: object) -> int:
    """The number of processes ``requested`` means for this config (see the module)."""
    if requested != AUTO:
        return int(requested)
    if config is None or shard is not None or config.sites_source != "config":
        return 1
    if offered_checks_per_s(config) < AUTO_MIN_CHECKS_PER_S:
        return 1
    return usable_cores()
