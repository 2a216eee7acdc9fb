"""Parsing the specs of the non-HTTP probe kinds: TCP (``url: tcp://host:port`` or
``tls://host:port``) and DNS (``kind: dns`` with ``name``, ``record_type``, ``server``,
``transport``, ``expected``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sitemon_adapters.probe.dns import normalise_answer
from sitemon_cli.config.tls import tls_settings
from sitemon_cli.config.values import Section, choice, pick_value, string_list, text
from sitemon_core.models import DNS_RECORD_TYPES, DnsSpec, TcpSpec

TCP_SCHEMES = ("tcp", "tls")
TCP_KEYS = {"url", "tls"}
DNS_KEYS = {"name", "record_type", "server", "transport", "expected"}


def parse_tcp_spec(sec: Section, defaults: Mapping[str, Any]) -> TcpSpec:
    """``url: tcp://host:port`` (connect) or ``tls://host:port`` (connect + handshake, with
    the site's ``tls`` settings)."""
    host, port, scheme = sec.require("url", _tcp_url)
    settings = pick_value(sec, defaults, "tls", tls_settings, None)
    return TcpSpec(host=host, port=port, tls=scheme == "tls", tls_settings=settings)


def _tcp_url(sec: Section, path: str, raw: Any) -> tuple[str, int, str]:
    value = text(sec, path, raw).strip()
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError as exc:
        raise sec.error(path, f"has an invalid port: {value!r}") from exc
    if not parts.hostname or port is None or parts.path not in ("", "/"):
        raise sec.error(path, f"must be {parts.scheme}://host:port, got {value!r}")
    return parts.hostname, port, parts.scheme


def parse_dns_spec(sec: Section) -> DnsSpec:
    """A DNS check; ``server`` is ``host`` or ``host:port`` (``[v6]:port``), default the
    system's resolvers."""
    record_type = sec.get("record_type", choice(*DNS_RECORD_TYPES), "A")
    server = sec.get("server", _server, None)
    expected: list[str] = sec.get("expected", string_list, [])
    return DnsSpec(
        name=sec.require("name", _name),
        record_type=record_type,
        server=None if server is None else server[0],
        port=53 if server is None else server[1],
        tcp=sec.get("transport", choice("udp", "tcp"), "udp") == "tcp",
        expected=frozenset(_normalised(record_type, expected)),
    )


def _normalised(record_type: str, answers: list[str]) -> list[str]:
    return [normalise_answer(record_type, answer) for answer in answers]


def _name(sec: Section, path: str, raw: Any) -> str:
    value = text(sec, path, raw).strip().rstrip(".")
    labels = value.split(".")
    if not value or len(value) > 253 or any(not 0 < len(label) <= 63 for label in labels):
        raise sec.error(path, f"must be a domain name, got {raw!r}")
    return value


def _server(sec: Section, path: str, raw: Any) -> tuple[str, int]:
    value = text(sec, path, raw).strip()
    parts = urlsplit(f"//{value}")
    try:
        port = parts.port or 53
    except ValueError as exc:
        raise sec.error(path, f"has an invalid port: {value!r}") from exc
    if not parts.hostname:
        raise sec.error(path, f"must be host or host:port, got {value!r}")
    return parts.hostname, port
