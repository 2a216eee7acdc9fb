"""Parsing the HTTP spec of a site: URL, method, headers, expected status, regex, redirects."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import regex

from sitemon_adapters.probe.http_common.body_regex import compile_body_regex
from sitemon_cli.config.conditions import headers_expected, json_conditions, request_body
from sitemon_cli.config.tls import tls_settings
from sitemon_cli.config.values import (
    Parser,
    Section,
    boolean,
    choice,
    pick_value,
    positive_int,
    string_map,
    text,
)
from sitemon_core.models import DEFAULT_MAX_BODY_BYTES, HttpSpec

HTTP_KEYS = {
    "url",
    "regex",
    "expected_status",
    "headers",
    "method",
    "follow_redirects",
    "max_redirects",
    "max_body_bytes",
    "on_large_body",
    "json",
    "headers_expected",
    "body",
    "user_agent",
    "tls",
}


def parse_http_spec(sec: Section, defaults: Mapping[str, Any]) -> HttpSpec:
    """The HTTP spec of one site mapping, with the parsed ``defaults`` applied."""

    def pick(name: str, fallback: Any) -> Any:
        return pick_value(sec, defaults, name, HTTP_DEFAULTABLE[name], fallback)

    method = pick("method", "GET")
    headers: dict[str, str] = pick("headers", {})
    body = sec.get("body", request_body, None)
    if body is not None:
        if method != "POST":
            raise sec.error(sec.key("body"), f"needs method POST, got {method}")
        if not any(name.lower() == "content-type" for name in headers):
            headers = {**headers, "Content-Type": body[1]}
    return HttpSpec(
        url=sec.require("url", _url),
        regex=sec.get("regex", _regex, None),
        expected_statuses=frozenset(pick("expected_status", range(200, 300))),
        headers=headers,
        method=method,
        body=None if body is None else body[0],
        json_conditions=sec.get("json", json_conditions, ()),
        headers_expected=pick("headers_expected", ()),
        user_agent=pick("user_agent", None),
        tls=pick("tls", None),
        follow_redirects=pick("follow_redirects", True),
        max_redirects=pick("max_redirects", 10),
        max_body_bytes=pick("max_body_bytes", DEFAULT_MAX_BODY_BYTES),
        fail_on_large_body=pick("on_large_body", "truncate") == "fail",
    )


def _url(sec: Section, path: str, raw: Any) -> str:
    value = text(sec, path, raw).strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise sec.error(path, f"must be an http:// or https:// URL, got {value!r}")
    if not parts.hostname:
        raise sec.error(path, f"has no host: {value!r}")
    try:
        _ = parts.port
    except ValueError as exc:
        raise sec.error(path, f"has an invalid port: {value!r}") from exc
    return value


def _regex(sec: Section, path: str, raw: Any) -> str:
    value = text(sec, path, raw)
    try:
        re.compile(value)
    except re.error as exc:
        raise sec.error(path, f"invalid regular expression {value!r}: {exc}") from exc
    try:  # the engine the probers search with (re-compatible; see body_regex)
        compile_body_regex(value)
    except regex.error as exc:
        raise sec.error(path, f"regular expression {value!r} is not supported: {exc}") from exc
    return value


def _user_agent(sec: Section, path: str, raw: Any) -> str:
    value = text(sec, path, raw)
    if not value or not value.isprintable():  # a CR or LF would end the header early
        raise sec.error(path, f"must be printable text, got {value!r}")
    return value


def _statuses(sec: Section, path: str, raw: Any) -> list[int]:
    items = raw if isinstance(raw, list) else [raw]
    codes: list[int] = []
    for i, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, int) or not 100 <= item <= 599:
            raise sec.error(f"{path}[{i}]", f"must be an HTTP status code 100-599, got {item!r}")
        codes.append(item)
    return codes


# The site keys of an HTTP check that ``defaults`` may set for every site, with their parsers.
HTTP_DEFAULTABLE: dict[str, Parser] = {
    "expected_status": _statuses,
    "headers": string_map,
    "method": choice("GET", "HEAD", "POST"),
    "follow_redirects": boolean,
    "max_redirects": positive_int,
    "max_body_bytes": positive_int,
    "on_large_body": choice("truncate", "fail"),
    "headers_expected": headers_expected,
    "user_agent": _user_agent,
    "tls": tls_settings,
}
