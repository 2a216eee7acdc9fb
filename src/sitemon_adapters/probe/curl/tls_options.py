"""A site's own TLS settings (``tls:``) as libcurl options.

libcurl has no option for the name sent in SNI and verified: a ``server_name`` is made the
URL's host, ``CONNECT_TO`` sends the connection to the real host, and the ``Host`` header
keeps the real one, so the server sees the request the aiohttp engine sends (which sets
``server_hostname``). The final URL is mapped back before it is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import pycurl

from sitemon_core.models import HttpSpec

UrlMap = Callable[[str], str]


def _same(url: str) -> str:
    return url


def apply_tls(easy: pycurl.Curl, spec: HttpSpec, cafile: str | None) -> tuple[str, UrlMap]:
    """Set the TLS options of ``spec`` on ``easy`` (``cafile``: the prober's CAs); returns
    the URL to request and the map from libcurl's effective URL back to the site's."""
    tls = spec.tls
    if tls is None:
        if cafile is not None:
            easy.setopt(pycurl.CAINFO, cafile)
        return spec.url, _same
    ca = tls.ca_file or cafile
    if ca is not None:
        easy.setopt(pycurl.CAINFO, ca)
    if not tls.verify:
        easy.setopt(pycurl.SSL_VERIFYPEER, 0)
        easy.setopt(pycurl.SSL_VERIFYHOST, 0)
    if tls.client_cert is not None:
        easy.setopt(pycurl.SSLCERT, tls.client_cert)
        if tls.client_key is not None:
            easy.setopt(pycurl.SSLKEY, tls.client_key)
    parts = urlsplit(spec.url)
    if tls.server_name is None or parts.scheme != "https" or parts.hostname is None:
        return spec.url, _same
    return _connect_to(easy, spec, tls.server_name)


def _connect_to(easy: pycurl.Curl, spec: HttpSpec, server_name: str) -> tuple[str, UrlMap]:
    parts = urlsplit(spec.url)
    host = parts.hostname or ""
    port = parts.port or 443
    bracketed = f"[{host}]" if ":" in host else host
    easy.setopt(pycurl.CONNECT_TO, [f"{server_name}:{port}:{bracketed}:{port}"])
    netloc = server_name if parts.port is None else f"{server_name}:{port}"
    url = urlunsplit(parts._replace(netloc=netloc))
    original = parts.netloc.rpartition("@")[2]
    if not any(name.lower() == "host" for name, _ in spec.headers):
        headers = [f"{name}: {value}" for name, value in spec.headers]
        easy.setopt(pycurl.HTTPHEADER, [*headers, f"Host: {original}"])
    prefix, real = f"https://{netloc}", f"https://{parts.netloc}"

    def back(effective: str) -> str:
        return real + effective[len(prefix) :] if effective.startswith(prefix) else effective

    return url, back
