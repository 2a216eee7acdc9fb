"""What both probers share without importing either HTTP engine: the stages of a check
(the tail of a timeout's message: "timed out after 2.0s connecting") and the header limit."""

from __future__ import annotations

RESOLVING = "resolving the name"
CONNECTING = "connecting"
TLS_STAGE = "in the TLS handshake"
WAITING = "waiting for the response"
READING = "reading the body"
SEARCHING = "searching the body regex"

# Longest response header line accepted (aiohttp's default is 8190). Real sites send
# larger ones that browsers and curl accept (long Content-Security-Policy, Link or
# Set-Cookie headers; 8.5 kB seen in the wild), and calling such a site down would be a
# false alarm. Still bounded: with aiohttp's 128-header limit a head costs at most ~4 MiB,
# the order of the body cap; a longer line (e.g. a 100 kB header) is a PROTOCOL error.
MAX_HEADER_LINE_BYTES = 32 * 1024


def timed_out(timeout_s: float, stage: str) -> str:
    """The message of a check that ran out of time during ``stage``."""
    return f"timed out after {timeout_s}s {stage}"
