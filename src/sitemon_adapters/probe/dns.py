"""The DNS ``SiteProber``: resolve a name's records with dnspython's asyncio resolver.

One query per check (no cache, no search list), at the site's ``server`` or at the
system's resolvers; over UDP (TCP when the site says so). ``dns_ms`` is the resolution
time; the answers are recorded (normalised: lower-case names without the final dot,
compressed IPv6, TXT strings joined) and every ``expected`` answer must be among them,
else the check fails as ``answer_mismatch``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Coroutine
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

from sitemon_adapters.probe.http_common.stages import RESOLVING, timed_out
from sitemon_adapters.probe.tags import result_tags
from sitemon_core.models import CheckResult, DnsSpec, ErrorKind, PhaseTimings, Site, new_check_id
from sitemon_core.ports import Clock

ANSWER_MISMATCH = "answer_mismatch"
# What a result carries of a server's answer: a hostile server can send thousands of
# records (64 KiB over TCP); the expected answers are compared with all of them.
MAX_ANSWERS = 32
MAX_ANSWER_CHARS = 255
_MS = 1000.0


def normalise_answer(record_type: str, text: str) -> str:
    """One answer as results record it and ``expected`` is compared with."""
    text = text.strip()
    if record_type in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            return text
    if record_type == "TXT":
        return text
    return text.lower().rstrip(".")  # CNAME target, MX "10 mail.example.com"


class _NoSystemResolverError(Exception):
    """A site without ``server`` on a host without a resolver configuration."""


class DnsSiteProber:
    """Checks ``dns`` sites; implements ``sitemon_core.ports.SiteProber``.

    The system resolver configuration (``/etc/resolv.conf``) is read once, in
    ``async with``; sites naming a ``server`` get a resolver of their own per check.
    """

    def __init__(self, region: str, clock: Clock) -> None:
        """Make a prober stamping results with ``region`` and ``clock``."""
        self._region = region
        self._clock = clock
        self._system: dns.asyncresolver.Resolver | None = None

    async def __aenter__(self) -> DnsSiteProber:
        """Read the system's resolver configuration (none is fine: sites name servers)."""
        try:
            self._system = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            self._system = None
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Nothing to close: every query opens and closes its own socket."""

    def probe(self, site: Site) -> Coroutine[Any, Any, CheckResult]:
        """Check ``site`` (a DNS one) once; failures come back classified, never raised."""
        spec = site.spec
        if not isinstance(spec, DnsSpec):
            raise TypeError(f"site {site.id!r} is a {site.kind} check, not a DNS one")
        return self._check(site, spec)

    async def _check(self, site: Site, spec: DnsSpec) -> CheckResult:
        started_at = self._clock.utcnow()
        start = self._clock.monotonic()
        answers: frozenset[str] = frozenset()
        begin = time.monotonic()
        try:
            async with asyncio.timeout(site.timeout_s):  # dnspython's lifetime may overrun
                answers = await self._resolve(spec, site.timeout_s)
            kind, message = ErrorKind.NONE, ""
        except Exception as exc:  # any target failure; CancelledError is not an Exception
            kind, message = _classify(exc, spec, site.timeout_s)
        resolved_ms = (time.monotonic() - begin) * _MS
        missing = sorted(spec.expected - answers) if kind is ErrorKind.NONE else []
        if missing:
            message = f"expected {', '.join(missing)} among the answers"
        total_ms = (self._clock.monotonic() - start) * _MS
        return CheckResult(
            check_id=new_check_id(),
            site_id=site.id,
            url=spec.target,
            region=self._region,
            started_at=started_at,
            ok=kind is ErrorKind.NONE and not missing,
            total_ms=total_ms,
            timings=PhaseTimings(dns_ms=min(resolved_ms, total_ms)),
            error_kind=kind,
            error_message=message,
            tags=result_tags(site.tags),
            failed_condition=ANSWER_MISMATCH if missing else None,
            answers=_recorded(answers),
        )

    async def _resolve(self, spec: DnsSpec, timeout_s: float) -> frozenset[str]:
        resolver = await self._resolver(spec)
        answer = await resolver.resolve(
            spec.name,
            spec.record_type,
            tcp=spec.tcp,
            lifetime=timeout_s,
            search=False,
            raise_on_no_answer=True,
        )
        return frozenset(normalise_answer(spec.record_type, _text(r)) for r in answer)

    async def _resolver(self, spec: DnsSpec) -> dns.asyncresolver.Resolver:
        if spec.server is None:
            if self._system is None:
                raise _NoSystemResolverError
            return self._system
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [await _address(spec.server, spec.port)]
        resolver.port = spec.port
        resolver.retry_servfail = False
        return resolver


async def _address(server: str, port: int) -> str:
    """The server's IP address (a name is resolved with the system's resolver)."""
    try:
        return str(ipaddress.ip_address(server))
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(server, port, type=socket.SOCK_DGRAM)
    return str(infos[0][4][0])


def _recorded(answers: frozenset[str]) -> tuple[str, ...]:
    """The answers as a result records them: sorted, at most ``MAX_ANSWERS``, each cut to
    ``MAX_ANSWER_CHARS``."""
    shown = sorted(answers)[:MAX_ANSWERS]
    return tuple(
        a if len(a) <= MAX_ANSWER_CHARS else a[: MAX_ANSWER_CHARS - 1] + "…" for a in shown
    )


def _text(rdata: Any) -> str:
    if rdata.rdtype == dns.rdatatype.TXT:  # the strings, joined, not zone-file quoted
        return "".join(part.decode("utf-8", "replace") for part in rdata.strings)
    return str(rdata.to_text())


def _classify(exc: BaseException, spec: DnsSpec, timeout_s: float) -> tuple[ErrorKind, str]:
    """The error kind and message of a failed resolution."""
    question = f"{spec.name} {spec.record_type}"
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return ErrorKind.DNS, f"NXDOMAIN: {spec.name} does not exist"
    if isinstance(exc, dns.resolver.NoAnswer):
        return ErrorKind.DNS, f"no {spec.record_type} records for {spec.name}"
    if isinstance(exc, dns.resolver.LifetimeTimeout | dns.exception.Timeout | TimeoutError):
        return ErrorKind.TIMEOUT, timed_out(timeout_s, RESOLVING)
    if isinstance(exc, dns.resolver.NoNameservers):
        return _no_nameservers(exc, question)
    if isinstance(exc, _NoSystemResolverError):
        return ErrorKind.INTERNAL, "no system resolver configured"
    if isinstance(exc, socket.gaierror):
        return ErrorKind.DNS, f"server name not resolved: {(exc.strerror or str(exc)).lower()}"
    if isinstance(exc, ConnectionRefusedError):
        return ErrorKind.CONNECT, "connection refused"
    if isinstance(exc, OSError):
        return ErrorKind.CONNECT, (exc.strerror or str(exc)).lower()
    if isinstance(exc, dns.exception.DNSException):
        return ErrorKind.PROTOCOL, f"invalid DNS answer: {type(exc).__name__}"
    return ErrorKind.INTERNAL, f"unexpected {type(exc).__name__}: {exc}"


def _no_nameservers(exc: dns.resolver.NoNameservers, question: str) -> tuple[ErrorKind, str]:
    """Every server failed: say how the (single) server answered."""
    errors = exc.kwargs.get("errors") or []
    detail = errors[-1][3] if errors else None
    if isinstance(detail, ConnectionRefusedError):
        return ErrorKind.CONNECT, "connection refused"
    if isinstance(detail, OSError):
        return ErrorKind.CONNECT, (detail.strerror or str(detail)).lower()
    if isinstance(detail, dns.exception.DNSException) and not isinstance(detail, EOFError):
        return ErrorKind.PROTOCOL, f"invalid DNS answer: {type(detail).__name__}"
    text = str(detail or "")
    for rcode in ("SERVFAIL", "REFUSED", "NOTIMP", "FORMERR"):
        if rcode in text:
            return ErrorKind.DNS, f"{rcode} for {question}"
    return ErrorKind.PROTOCOL, f"no usable answer for {question}: {text[:120]}"
