"""How the web application is configured: auth, refresh, page size, clock."""

from __future__ import annotations

import base64
import hmac
from datetime import timedelta

import attrs
from aiohttp import web

from sitemon_adapters.clock import SystemClock
from sitemon_core.ports import Clock


@attrs.frozen(kw_only=True)
class WebAuth:
    """Bearer-token or basic credentials every route but ``/healthz`` requires."""

    token: str | None = attrs.field(default=None, repr=False)
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        if (self.token is None) == (self.username is None or self.password is None):
            raise ValueError("give either a token or a username and a password")

    @property
    def scheme(self) -> str:
        """``Bearer`` or ``Basic``."""
        return "Bearer" if self.token is not None else "Basic"

    def expected_header(self) -> str:
        """The exact ``Authorization`` value that is accepted."""
        if self.token is not None:
            return f"Bearer {self.token}"
        pair = f"{self.username}:{self.password}".encode()
        return f"Basic {base64.b64encode(pair).decode()}"

    def allows(self, header: str | None) -> bool:
        """Whether ``header`` carries the credentials (compared in constant time)."""
        given = (header or "").encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given, self.expected_header().encode())


@attrs.frozen(kw_only=True)
class WebOptions:
    """Everything the web application takes besides the queries port."""

    auth: WebAuth | None = None
    clock: Clock = attrs.field(factory=SystemClock)
    refresh_s: float = 30.0  # how often the page reloads its data from the API
    page_size: int = 50  # sites per page on the status page
    bar_bucket: timedelta = timedelta(days=1)  # one bar of the 90-bar uptime strip
    title: str = "sitemon"


OPTIONS: web.AppKey[WebOptions] = web.AppKey("options", WebOptions)
