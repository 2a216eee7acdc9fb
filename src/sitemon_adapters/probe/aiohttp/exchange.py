"""What the HTTP exchange of one aiohttp check produced so far (filled in as it goes)."""

from __future__ import annotations

from sitemon_adapters.probe.http_common.conditions import Failure
from sitemon_adapters.probe.http_common.peer import TlsFacts


class Exchange:
    """What the HTTP exchange of one check produced so far."""

    __slots__ = (
        "bytes_read",
        "deadline",
        "failed",
        "final_url",
        "regex_matched",
        "status",
        "tls",
        "too_large",
        "truncated",
    )

    def __init__(self) -> None:
        self.status: int | None = None
        self.final_url: str | None = None
        self.bytes_read = 0
        self.regex_matched: bool | None = None
        self.failed: Failure | None = None  # the first header or JSON condition missed
        self.deadline = 0.0  # time.monotonic() at which the check's timeout is up
        self.too_large = False  # over the cap, and the site fails on that
        self.truncated = False  # over the cap, judged on the part read
        self.tls: TlsFacts | None = None
