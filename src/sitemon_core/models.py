"""The domain: what a site is, what one check of it found, and its latest status."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Protocol, cast

import attrs

from sitemon_core.conditions import JsonCondition

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_EXPECTED_STATUSES = frozenset(range(200, 300))
MAX_ERROR_MESSAGE = 300


class ErrorKind(enum.Enum):
    """Why a check could not complete; ``NONE`` when an HTTP response was read.

    A closed set: every failure of a target maps to exactly one of these, so a result is
    always data the scanner can publish, never an exception.
    """

    NONE = "none"
    DNS = "dns"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    TLS = "tls"
    PROTOCOL = "protocol"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BODY_TOO_LARGE = "body_too_large"
    INTERNAL = "internal"


Headers = tuple[tuple[str, str], ...]


def _freeze_headers(value: Mapping[str, str] | Headers) -> Headers:
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


DEFAULT_TLS_EXPIRY_WARNING_S = 14 * 86400.0


@attrs.frozen(kw_only=True)
class Site:
    """One monitored target: what every check has (id, schedule, tags) plus the spec of its kind.

    Frozen and hashable so a catalogue reload can tell unchanged sites from changed ones.
    ``degraded_after_s`` / ``fail_after_s`` judge the check's total time: slower than the
    first, a healthy check is ``degraded``; slower than the second, it fails (``too_slow``).
    ``tls_expiry_warning_s`` is for the alerter: a certificate expiring within it deserves
    a warning (the probe only records ``tls_not_after``).
    """

    id: str
    interval_s: float
    timeout_s: float  # bounds the whole check, whatever its kind
    spec: ProbeSpec
    tags: frozenset[str] = frozenset()
    degraded_after_s: float | None = None
    fail_after_s: float | None = None
    tls_expiry_warning_s: float = DEFAULT_TLS_EXPIRY_WARNING_S

    @property
    def kind(self) -> str:
        """The probe kind (``http``), from the spec's type."""
        return self.spec.kind

    @property
    def target(self) -> str:
        """What the check is aimed at, as results name it (``CheckResult.url``)."""
        return self.spec.target

    @classmethod
    def http(
        cls,
        *,
        id: str,
        url: str,
        interval_s: float,
        timeout_s: float,
        tags: frozenset[str] = frozenset(),
        **spec: Any,
    ) -> Site:
        """An HTTP site; ``spec`` takes the other fields of ``HttpSpec`` (``regex=...``)."""
        return cls(
            id=id,
            interval_s=interval_s,
            timeout_s=timeout_s,
            tags=tags,
            spec=HttpSpec(url=url, **spec),
        )


class HttpSite(Protocol):
    """A ``Site`` whose spec is an ``HttpSpec``: what the HTTP probers work on."""

    @property
    def id(self) -> str: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def tags(self) -> frozenset[str]: ...
    @property
    def spec(self) -> HttpSpec: ...


def as_http(site: Site) -> HttpSite:
    """``site`` seen as an HTTP site; raises ``TypeError`` for another kind (the router
    sends the HTTP probers ``http`` sites only)."""
    if not isinstance(site.spec, HttpSpec):
        raise TypeError(f"site {site.id!r} is a {site.kind} check, not an HTTP one")
    return cast(HttpSite, site)


@attrs.frozen(kw_only=True)
class PhaseTimings:
    """Milliseconds spent in each phase of a check; ``None`` where not measured.

    dns: name resolution; connect: TCP handshake; tls: TLS handshake; ttfb: from request
    sent to first response byte; transfer: from first byte to the end of the body read.
    """

    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None
    transfer_ms: float | None = None


def new_check_id() -> str:
    """A globally unique id for one check (it deduplicates history rows)."""
    return uuid.uuid4().hex


def _short(message: str) -> str:
    # Target bytes can reach a message (a bad header, an odd exception): drop NULs and lone
    # surrogates, which PostgreSQL text and Avro's UTF-8 strings cannot carry.
    if not message or (
        message.isascii() and "\x00" not in message and len(message) <= MAX_ERROR_MESSAGE
    ):
        return message  # the usual case, decided without copying
    message = message.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return message if len(message) <= MAX_ERROR_MESSAGE else message[: MAX_ERROR_MESSAGE - 1] + "…"


def _aware(_instance: object, _attribute: object, value: datetime) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"started_at must be timezone-aware, got {value.isoformat()}")


@attrs.frozen(kw_only=True)
class CheckResult:
    """What one check of one site found. Published as one Avro record per check."""

    check_id: str
    site_id: str
    url: str
    region: str
    started_at: datetime = attrs.field(validator=_aware)
    ok: bool
    total_ms: float
    status_code: int | None = None
    timings: PhaseTimings = PhaseTimings()
    regex_matched: bool | None = None
    bytes_read: int = 0
    final_url: str | None = None
    error_kind: ErrorKind = ErrorKind.NONE
    error_message: str = attrs.field(default="", converter=_short)
    tags: tuple[str, ...] = ()  # the site's tags, sorted, so results can be grouped by them
    # Schema 3: the server certificate (leaf) of a TLS check, also when the handshake
    # failed on it, where it could be read; the negotiated version (TLSv1.3...).
    tls_not_after: datetime | None = attrs.field(default=None)
    tls_version: str | None = None
    tls_issuer: str | None = None
    body_truncated: bool = False  # reading stopped at max_body_bytes; judged on the part read
    degraded: bool = False  # healthy but slower than the site's degraded_after
    # The condition beyond status and regex that failed (one outcome word: too_slow,
    # json_mismatch, header_mismatch, answer_mismatch); None when none failed.
    failed_condition: str | None = None
    answers: tuple[str, ...] = ()  # what a DNS check resolved, sorted

    @tls_not_after.validator
    def _tls_not_after_aware(self, _attribute: object, value: datetime | None) -> None:
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"tls_not_after must be timezone-aware, got {value.isoformat()}")

    @property
    def outcome(self) -> str:
        """A one-word classification for tables and logs.

        ``up``; ``degraded`` (healthy but slow); ``bad_status`` (unexpected status code);
        ``regex_miss`` (body did not match); a failed condition (``too_slow``,
        ``json_mismatch``, ``header_mismatch``, ``answer_mismatch``); or the error kind's
        value (``timeout``, ``connect``...).
        """
        if self.ok:
            return "degraded" if self.degraded else "up"
        if self.error_kind is not ErrorKind.NONE:
            return str(self.error_kind.value)
        if self.regex_matched is False:
            return "regex_miss"
        return self.failed_condition or "bad_status"

    @property
    def verdict(self) -> str:
        """``up``, ``degraded`` (reachable and healthy, but slow) or ``down``."""
        if self.ok:
            return "degraded" if self.degraded else "up"
        return "down"


def judge(
    spec: HttpSpec, status_code: int | None, regex_matched: bool | None, error: ErrorKind
) -> bool:
    """Whether an HTTP check counts as healthy: it completed, the status is expected, the
    regex hit."""
    if error is not ErrorKind.NONE or status_code is None:
        return False
    if status_code not in spec.expected_statuses:
        return False
    return regex_matched is not False


@attrs.frozen(kw_only=True)
class SiteStatus:
    """The latest known status of one site: its newest check result."""

    site_id: str
    latest: CheckResult
