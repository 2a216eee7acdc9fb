"""What each probe kind checks: the spec of an HTTP, TCP or DNS check, and TLS settings.

Re-exported by ``sitemon_core.models`` (``Site.spec`` holds one of these).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import attrs

from sitemon_core.conditions import JsonCondition

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_EXPECTED_STATUSES = frozenset(range(200, 300))

Headers = tuple[tuple[str, str], ...]


def _freeze_headers(value: Mapping[str, str] | Headers) -> Headers:
    if value == ():  # most sites have none: decoding 100,000 of them skips the sort
        return ()
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(k), str(v)) for k, v in items))


@attrs.frozen(kw_only=True)
class TlsSettings:
    """How a check trusts and identifies itself to a TLS server (a private CA, mutual TLS).

    ``ca_file`` replaces the system CAs; ``client_cert``/``client_key`` (PEM files) are
    presented when the server asks; ``server_name`` is the name sent (SNI) and verified
    instead of the URL's host; ``verify=False`` accepts any certificate (still recorded).
    """

    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    server_name: str | None = None
    verify: bool = True


@attrs.frozen(kw_only=True)
class HttpSpec:
    """What an HTTP(S) check requests and what counts as a healthy answer."""

    kind: ClassVar[str] = "http"  # the name the probe router files this spec's prober under

    url: str
    method: str = "GET"
    headers: Headers = attrs.field(default=(), converter=_freeze_headers, repr=False)
    expected_statuses: frozenset[int] = DEFAULT_EXPECTED_STATUSES
    regex: str | None = None  # searched in the body (re syntax) by the probers
    follow_redirects: bool = True
    max_redirects: int = 10
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Past max_body_bytes: stop reading and judge what was read (False), or fail the check
    # as ``body_too_large`` (True, ``on_large_body: fail``).
    fail_on_large_body: bool = False
    json_conditions: tuple[JsonCondition, ...] = ()  # on the body parsed as JSON
    # (lower-case header name, glob pattern of its value): each must match a header
    headers_expected: Headers = attrs.field(default=(), converter=_freeze_headers)
    body: str | None = attrs.field(default=None, repr=False)  # sent with the request
    user_agent: str | None = None  # this site's User-Agent, instead of the scanner's
    tls: TlsSettings | None = None  # None: the prober's own (system CAs, verifying)

    @property
    def target(self) -> str:
        """What the check is aimed at, as results name it (``CheckResult.url``)."""
        return self.url


@attrs.frozen(kw_only=True)
class TcpSpec:
    """A TCP connect check (``tcp://host:port``), with a TLS handshake for ``tls://``."""

    kind: ClassVar[str] = "tcp"

    host: str
    port: int
    tls: bool = False
    tls_settings: TlsSettings | None = None  # for tls://: the site's CA, client cert...

    @property
    def target(self) -> str:
        """``tcp://host:port`` or ``tls://host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'tls' if self.tls else 'tcp'}://{host}:{self.port}"


DNS_RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT")


@attrs.frozen(kw_only=True)
class DnsSpec:
    """A DNS check: resolve ``name``'s ``record_type`` records (at ``server`` if given,
    else with the system's resolvers); every ``expected`` answer must be among them."""

    kind: ClassVar[str] = "dns"

    name: str
    record_type: str = "A"
    server: str | None = None
    port: int = 53
    tcp: bool = False  # query over TCP instead of UDP
    expected: frozenset[str] = frozenset()

    @property
    def target(self) -> str:
        """An RFC 4501 DNS URI: ``dns://server:port/name?type=A`` (``dns:name?type=A``
        with the system's resolvers)."""
        if self.server is None:
            return f"dns:{self.name}?type={self.record_type}"
        server = f"[{self.server}]" if ":" in self.server else self.server
        return f"dns://{server}:{self.port}/{self.name}?type={self.record_type}"


# The specs of every probe kind. A new kind adds its spec class (with its ``kind`` name and
# ``target``) here and its prober to the router's map in the container; each prober gets
# the sites of its own kind only (the router sees to it) and narrows ``site.spec``.
ProbeSpec = HttpSpec | TcpSpec | DnsSpec
