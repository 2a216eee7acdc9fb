"""The domain: what a site is, what one check of it found, and its latest status."""

from __future__ import annotations

import enum
import os
from datetime import datetime
from typing import Any, Protocol, cast

import attrs

from sitemon_core.specs import (
    DEFAULT_EXPECTED_STATUSES,
    DEFAULT_MAX_BODY_BYTES,
    DNS_RECORD_TYPES,
    DnsSpec,
    Headers,
    HttpSpec,
    ProbeSpec,
    TcpSpec,
    TlsSettings,
)

__all__ = [  # the specs are re-exported: ``from sitemon_core.models import HttpSpec``
    "DEFAULT_EXPECTED_STATUSES",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TLS_EXPIRY_WARNING_S",
    "DNS_RECORD_TYPES",
    "MAX_ERROR_MESSAGE",
    "CheckResult",
    "DnsSpec",
    "ErrorKind",
    "Headers",
    "HttpSite",
    "HttpSpec",
    "PhaseTimings",
    "ProbeSpec",
    "Site",
    "SiteStatus",
    "TcpSpec",
    "TlsSettings",
    "as_http",
    "judge",
    "new_check_id",
]

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
    """A globally unique id for one check (it deduplicates history rows): a random UUID
    (version 4) in hex, as ``uuid.uuid4().hex`` makes it but without the ``UUID`` object
    (less than half the cost; one per check)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    return raw.hex()


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
