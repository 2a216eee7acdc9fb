"""The tags a prober stamps on each result: the site's, in one canonical order."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=4096)
def result_tags(tags: frozenset[str]) -> tuple[str, ...]:
    """``tags`` sorted, computed once per distinct set (every check of a site asks)."""
    return tuple(sorted(tags))
