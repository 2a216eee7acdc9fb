"""Disjoint shards of a site list, so N scanner processes can split one catalogue.

A stable hash of the site id picks the shard: every scanner computes the same split
without talking to the others (no coordinator).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from sitemon_core.models import Site


def shard_of(site_id: str, shards: int) -> int:
    """The shard (``0 <= shard < shards``) that owns ``site_id``."""
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    # A different mix from the start offset's crc32, so shards don't share phases.
    return zlib.crc32(b"shard:" + site_id.encode()) % shards


def select_shard(sites: Iterable[Site], shard: int, shards: int) -> list[Site]:
    """The sites of ``shard`` out of ``shards``."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard must be in [0, {shards}), got {shard}")
    return [site for site in sites if shard_of(site.id, shards) == shard]
