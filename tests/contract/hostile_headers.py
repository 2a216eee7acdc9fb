"""Response heads around the probers' header limits, for ``test_hostile_sites.py``.

The aiohttp prober rejects a status line, header name or header value over
``MAX_HEADER_LINE_BYTES`` (32 KiB: its ``max_line_size``/``max_field_size``; aiohttp's C
parser checks the value on its own, without the name, except for the first header) and a
head of more than aiohttp's 128 headers. libcurl alone accepts lines up to 100 KiB and fails
heads over 300 KiB in all. These servers send a value at and one byte over the limit, values
between 32 and 100 KiB, and heads near the other two limits. Every response is otherwise
valid (``Content-Length: 2``, body ``ok``).
"""

from __future__ import annotations

import asyncio

import attrs

from sitemon_adapters.probe.aiohttp.prober import MAX_HEADER_LINE_BYTES
from tests.contract import targets

_NAME = b"X-Big"


def _head_with_value(size: int) -> bytes:
    """A 200 response whose second header (``X-Big``) has a value of ``size`` bytes."""
    return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n%s: %s\r\n\r\nok" % (_NAME, b"v" * size)


def _head_with_headers(count: int, size: int = 1) -> bytes:
    """A 200 response with ``count`` headers in all: ``Content-Length`` and ``count - 1``
    more with values of ``size`` bytes."""
    value = b"h" * size
    filler = b"".join(b"X-H%d: %s\r\n" % (i, value) for i in range(count - 1))
    return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n%s\r\nok" % filler


def _answer(raw: bytes) -> targets.Behaviour:
    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await targets._read_request_head(reader)
        writer.write(raw)
        await writer.drain()
        await targets._wait_for_client_close(reader)

    return behaviour


@attrs.frozen
class Head:
    """One response head: is it rejected (PROTOCOL) or fine, and why curl differs if so."""

    behaviour: targets.Behaviour
    rejected: bool
    curl_differs: str = ""  # a known difference of the curl prober: the reason


LIMIT = MAX_HEADER_LINE_BYTES
HEADS: dict[str, Head] = {
    "value_at_limit": Head(_answer(_head_with_value(LIMIT)), rejected=False),
    "value_over_limit": Head(_answer(_head_with_value(LIMIT + 1)), rejected=True),
    "value_40k": Head(_answer(_head_with_value(40 * 1024)), rejected=True),
    "value_99k": Head(_answer(_head_with_value(99 * 1024)), rejected=True),
    "headers_128": Head(_answer(_head_with_headers(128)), rejected=False),
    "headers_129": Head(
        _answer(_head_with_headers(129)),
        rejected=True,
        curl_differs="libcurl has no header count limit, and counting in the header "
        "callback is Python work per line on the fast path",
    ),
    "head_400k": Head(
        _answer(_head_with_headers(21, 20 * 1024)),
        rejected=False,
        curl_differs="libcurl fails a head over 300 KiB (a compile-time limit); aiohttp "
        "bounds a head by 128 headers of 32 KiB",
    ),
}
