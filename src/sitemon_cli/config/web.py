"""The ``web:`` section: where the status page and API listen, how they look, who may read."""

from __future__ import annotations

import attrs

from sitemon_cli.config.secrets import secret
from sitemon_cli.config.values import (
    Section,
    boolean,
    duration,
    listen_address,
    positive_int,
    text,
)
from sitemon_core.queries import MAX_PAGE

KEYS = {"enabled", "listen", "refresh", "page_size", "title", "auth"}
AUTH_KEYS = {"token", "token_file", "username", "password", "password_file"}


@attrs.frozen(kw_only=True)
class WebAuthSettings:
    """A bearer token, or a user name and password (basic auth)."""

    token: str | None = attrs.field(default=None, repr=False)
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)


@attrs.frozen(kw_only=True)
class WebSettings:
    """The status page and API (``sitemon-run web``, and inside ``standalone``)."""

    enabled: bool = True
    listen: tuple[str, int] = ("127.0.0.1", 8080)
    refresh_s: float = 30.0
    page_size: int = 50
    title: str = "sitemon"
    auth: WebAuthSettings | None = None

    def secrets(self) -> list[str]:
        """The token and password, to be masked in logs."""
        auth = self.auth
        return [v for v in (auth.token, auth.password) if v] if auth else []


def parse_web(root: Section) -> WebSettings:
    """The ``web:`` section of ``root`` (defaults when absent)."""
    sec = root.child("web", KEYS)
    return WebSettings(
        enabled=sec.get("enabled", boolean, True),
        listen=sec.get("listen", listen_address, ("127.0.0.1", 8080)),
        refresh_s=sec.get("refresh", duration, 30.0),
        page_size=sec.get("page_size", _page_size, 50),
        title=sec.get("title", text, "sitemon"),
        auth=_auth(sec) if sec.data.get("auth") is not None else None,
    )


def _page_size(sec: Section, path: str, raw: object) -> int:
    value = positive_int(sec, path, raw)
    if value > MAX_PAGE:
        raise sec.error(path, f"must be at most {MAX_PAGE}, got {value}")
    return value


def _auth(web: Section) -> WebAuthSettings:
    sec = web.child("auth", AUTH_KEYS)
    token = secret(sec, "token")
    username = sec.get("username", text, None)
    password = secret(sec, "password")
    if token is not None and (username is not None or password is not None):
        raise sec.error(sec.key("token"), "give either token or username and password, not both")
    if token is None and (username is None or password is None):
        raise sec.error(
            sec.key("username" if username is None else "password"),
            "is required: give token, or username and password (or password_file)",
        )
    if token == "" or password == "":
        raise sec.error(sec.key("token" if token == "" else "password"), "must not be empty")
    return WebAuthSettings(token=token, username=username, password=password)
