"""Parsing a site's ``tls`` settings: ``{ca_file, client_cert, client_key, server_name,
verify}`` (per site or under ``defaults``), for private CAs and mutual TLS."""

from __future__ import annotations

import os
from typing import Any

from sitemon_cli.config.values import Section, boolean, text
from sitemon_core.models import TlsSettings

TLS_KEYS = {"ca_file", "client_cert", "client_key", "server_name", "verify"}


def tls_settings(sec: Section, path: str, raw: Any) -> TlsSettings:
    """The ``tls`` mapping; the files must be readable now (a check would fail later)."""
    tls = Section(sec.source, path, raw, TLS_KEYS)
    cert = tls.get("client_cert", _readable_file, None)
    key = tls.get("client_key", _readable_file, None)
    if key is not None and cert is None:
        raise tls.error(tls.key("client_key"), "needs client_cert")
    return TlsSettings(
        ca_file=tls.get("ca_file", _readable_file, None),
        client_cert=cert,
        client_key=key,
        server_name=tls.get("server_name", _server_name, None),
        verify=tls.get("verify", boolean, True),
    )


def _readable_file(sec: Section, path: str, raw: Any) -> str:
    value = text(sec, path, raw)
    if not os.path.isfile(value) or not os.access(value, os.R_OK):
        raise sec.error(path, f"no readable file {value!r}")
    return value


def _server_name(sec: Section, path: str, raw: Any) -> str:
    value = text(sec, path, raw).strip()
    if not value or not all(c.isalnum() or c in ".-" for c in value):
        raise sec.error(path, f"must be a host name, got {raw!r}")
    return value
