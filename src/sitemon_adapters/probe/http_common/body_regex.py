"""A site's body regex, searched so that no pattern can stall the scanner.

Python's ``re`` holds the GIL while it matches and cannot be interrupted: a backtracking
pattern such as ``(a+)+$`` takes 2.8 s on 25 bytes (minutes on 35), and on the event loop
that would freeze every check of the scanner. The ``regex`` package (``re``-compatible
syntax, version 0) takes a timeout per search and releases the GIL on ``str``:

1. the search runs inline with a small slice of time; nearly every pattern finishes in
   microseconds, so the common case costs no thread hop;
2. one that does not is run again in a small dedicated thread pool, off the event loop,
   with what is left of the check's timeout;
3. if that runs out too, ``RegexTimeoutError``: the prober reports the check as a TIMEOUT
   naming the regex, and the thread is free again.

A pattern without any metacharacter (the common "the page says Welcome") cannot backtrack:
it is a plain substring search, done with ``in`` — the ``regex`` package's timeout set-up
alone costs ~4 µs a search, 30 times the search on a 1 kB page.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import regex

# Long enough for any sane pattern on a 1 MiB body, short enough not to be felt by the
# loop (the regex package checks its timer only every so often, so it may overrun a bit).
INLINE_BUDGET_S = 0.005
# The regex package's timer can overrun on a busy host (1.8 s for a 1 s timeout seen under
# load); the check stops waiting this long after the deadline whatever the thread does
# (the thread itself still stops at its own timeout).
WAIT_GRACE_S = 0.25

_pool: ThreadPoolExecutor | None = None


class RegexTimeoutError(Exception):
    """The body regex did not finish within the check's timeout."""


@functools.lru_cache(maxsize=4096)
def compile_body_regex(source: str) -> Any:
    """``source`` compiled for ``search_body`` (cached: sites share few patterns).

    Raises ``regex.error`` when the pattern is invalid.
    """
    return regex.compile(source, regex.VERSION0)


async def search_body(source: str, text: str, deadline: float) -> bool:
    """Whether ``source`` matches somewhere in ``text``, decided before ``deadline``
    (``time.monotonic()``); raises ``RegexTimeoutError`` when it cannot be."""
    budget = deadline - time.monotonic()
    if budget <= 0:
        raise RegexTimeoutError(_message(source))
    if is_literal(source):
        return source in text
    pattern = compile_body_regex(source)
    try:
        return pattern.search(text, timeout=min(INLINE_BUDGET_S, budget)) is not None
    except TimeoutError:
        pass
    loop = asyncio.get_running_loop()
    search = loop.run_in_executor(_executor(), _search_until, pattern, text, deadline, source)
    try:
        return await asyncio.wait_for(search, deadline - time.monotonic() + WAIT_GRACE_S)
    except TimeoutError:
        raise RegexTimeoutError(_message(source)) from None


# Every character with a meaning in a ``regex`` VERSION0 pattern (``re``'s set).
_METACHARACTERS = frozenset(".^$*+?{}[]\\|()")


@functools.lru_cache(maxsize=4096)
def is_literal(source: str) -> bool:
    """Whether ``source`` matches only itself, as a substring (no metacharacter)."""
    return not _METACHARACTERS.intersection(source)


def _search_until(pattern: Any, text: str, deadline: float, source: str) -> bool:
    budget = deadline - time.monotonic()
    if budget <= 0:  # waited for a free thread until the check's time was up
        raise RegexTimeoutError(_message(source))
    try:
        return pattern.search(text, timeout=budget, concurrent=True) is not None
    except TimeoutError:
        raise RegexTimeoutError(_message(source)) from None


def _message(source: str) -> str:
    shown = source if len(source) <= 60 else source[:59] + "…"
    return f"body regex {shown!r} did not finish within the check's timeout"


def _executor() -> ThreadPoolExecutor:
    global _pool  # noqa: PLW0603  (one pool per process, made on first need)
    if _pool is None:
        _pool = ThreadPoolExecutor(
            max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="sitemon-regex"
        )
    return _pool
