"""The pycurl ``SiteProber``: the same checks as ``AiohttpSiteProber`` for less CPU.

2.1-2.4x the checks per CPU-second of the aiohttp prober on plain HTTP, 1.4-1.6x on HTTPS, where the
handshake dominates (BENCHMARKS.md).

libcurl does the HTTP and TLS work in C; one ``CurlMulti`` per prober is driven by the
asyncio loop through libcurl's socket and timer callbacks (``add_reader``/``add_writer`` and
``call_later``), so every check is a coroutine like with aiohttp and the scanner is unchanged.
Each check gets a fresh connection (``FRESH_CONNECT`` + ``FORBID_REUSE``) and, by default, a
full TLS handshake (no session resumption: a resumed session sends no certificate, so the
handshake measured would not be a new visitor's, and nothing about the certificate could be
checked). Phase timings come from libcurl's NAMELOOKUP/CONNECT/APPCONNECT/PRETRANSFER/
STARTTRANSFER/TOTAL clocks; failures map onto the same ``ErrorKind`` set, with the same
messages where the two libraries can tell the same things apart.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import ssl
import time
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import pycurl

from sitemon_adapters.probe.http_common.body_regex import RegexTimeoutError, search_body
from sitemon_adapters.probe.http_common.stages import (
    CONNECTING,
    MAX_HEADER_LINE_BYTES,
    READING,
    RESOLVING,
    SEARCHING,
    TLS_STAGE,
    WAITING,
    timed_out,
)
from sitemon_core.models import (
    CheckResult,
    ErrorKind,
    PhaseTimings,
    Site,
    judge,
    new_check_id,
)
from sitemon_core.ports import Clock

# The outer safety net, as in the aiohttp prober: libcurl's own TIMEOUT_MS ends the check.
TIMEOUT_GRACE_S = 0.5
_MS = 1000.0
_SYSTEM_CA_FALLBACK = "/etc/ssl/certs/ca-certificates.crt"
# The aiohttp prober's header limit: a header name or value over it is a PROTOCOL error,
# where libcurl alone accepts lines up to 100 KiB. See ``_Transfer.header``.
HEADER_TOO_LONG = f"invalid HTTP response: status or header line over {MAX_HEADER_LINE_BYTES} bytes"
_READS = (pycurl.POLL_IN, pycurl.POLL_INOUT)
_WRITES = (pycurl.POLL_OUT, pycurl.POLL_INOUT)


def _system_cafile() -> str | None:
    """The system CA bundle: the wheel's own OpenSSL does not know where Debian keeps it."""
    paths = ssl.get_default_verify_paths()
    for candidate in (
        os.environ.get("SSL_CERT_FILE"),
        paths.cafile,
        paths.openssl_cafile,
        _SYSTEM_CA_FALLBACK,
    ):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


# The common cases without parsing the URL: an IPv4 literal right after the scheme, or an
# IPv6 one in brackets. Anything with userinfo goes the long way.
_IPV4_URL = re.compile(r"https?://(?:\d{1,3}\.){3}\d{1,3}(?::\d*)?(?:[/?#]|$)", re.IGNORECASE)


def _is_ip_literal(url: str) -> bool:
    if "@" not in url:
        return _IPV4_URL.match(url) is not None or "://[" in url
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _Transfer:
    """One check in flight: the easy handle, what it read, and the future awaiting it."""

    __slots__ = (
        "body",
        "bytes_read",
        "cap",
        "easy",
        "future",
        "head_too_long",
        "keep",
        "too_large",
    )

    def __init__(
        self, easy: pycurl.Curl, cap: int, keep: bool, future: asyncio.Future[tuple[int, str]]
    ) -> None:
        self.easy = easy
        self.cap = cap
        self.keep = keep
        self.body: list[bytes] = []
        self.bytes_read = 0
        self.too_large = False
        self.head_too_long = False
        self.future = future

    def write(self, chunk: bytes) -> int | None:
        """libcurl's write callback: count (and keep) body bytes; abort past the cap."""
        self.bytes_read += len(chunk)
        if self.keep:
            self.body.append(chunk)
        if self.bytes_read > self.cap:
            self.too_large = True
            return 0  # any other count than len(chunk) aborts the transfer (CURLE_WRITE_ERROR)
        return None

    def header(self, line: bytes) -> int | None:
        """libcurl's header callback, once per status or header line (CRLF included): abort
        on a name or value over ``MAX_HEADER_LINE_BYTES``, as the aiohttp prober does.

        The common case costs one length check: a line no longer than the limit cannot hold
        a name or value over it. libcurl itself fails lines over 100 KiB (CURLE_TOO_LARGE)
        and heads over 300 KiB before calling this.
        """
        if len(line) > MAX_HEADER_LINE_BYTES and _field_too_long(line):
            self.head_too_long = True
            return 0  # aborts the transfer (CURLE_WRITE_ERROR); _result reads the flag
        return None


def _field_too_long(line: bytes) -> bool:
    """Whether a long header line has a name or value over the limit. aiohttp's parser (C,
    llhttp) checks each on its own, the value without the whitespace around it (it adds the
    name's length only for the first header); a status line has no colon, so all of it
    counts, like aiohttp's limit on the status line."""
    name, _, value = line.partition(b":")
    limit = MAX_HEADER_LINE_BYTES
    return len(name) > limit or len(value.strip(b" \t\r\n")) > limit


class CurlSiteProber:
    """Checks sites over HTTP(S) with libcurl; implements ``sitemon_core.ports.SiteProber``.

    Use as an async context manager (the multi handle is bound to the running loop).
    ``cafile`` replaces the system CAs. ``tls_session_cache`` resumes TLS sessions across
    checks of a host (off by default, see the module docstring). ``dns_cache_ttl_s`` caches
    resolved addresses (default ``None``: a fresh lookup per check, like the aiohttp prober).
    Concurrency is not bounded here: the scanner bounds it.
    """

    def __init__(
        self,
        region: str,
        clock: Clock,
        *,
        user_agent: str = "sitemon/0.1",
        cafile: str | None = None,
        tls_session_cache: bool = False,
        dns_cache_ttl_s: int | None = None,
    ) -> None:
        """Make a prober; libcurl's multi handle is created in ``async with``."""
        self._region = region
        self._clock = clock
        self._user_agent = user_agent
        self._cafile = cafile or _system_cafile()
        self._tls_sessions = tls_session_cache
        self._dns_ttl = dns_cache_ttl_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._multi: pycurl.CurlMulti | None = None
        self._share: pycurl.CurlShare | None = None
        self._timer: asyncio.Handle | None = None
        self._deadline = 0.0
        self._watched: dict[int, int] = {}
        self._transfers: dict[pycurl.Curl, _Transfer] = {}

    async def __aenter__(self) -> Self:
        """Create the multi handle and hook it to the running loop."""
        self._loop = asyncio.get_running_loop()
        multi = pycurl.CurlMulti()
        multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._multi = multi
        if self._tls_sessions:
            self._share = pycurl.CurlShare()
            self._share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_SSL_SESSION)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Abort what is still running and free libcurl's handles."""
        for transfer in list(self._transfers.values()):
            self._discard(transfer)
        if self._timer is not None:
            self._timer.cancel()
        for fd in list(self._watched):
            self._unwatch(fd)
        if self._multi is not None:
            self._multi.close()
            self._multi = None
        if self._share is not None:
            self._share.close()
            self._share = None

    async def probe(self, site: Site) -> CheckResult:
        """Check ``site`` once; target failures come back classified, never raised."""
        if self._multi is None or self._loop is None:
            raise RuntimeError("CurlSiteProber used outside 'async with'")
        transfer = _Transfer(
            self._easy(site),
            site.spec.max_body_bytes,
            site.spec.regex is not None,
            self._loop.create_future(),
        )
        transfer.easy.setopt(pycurl.WRITEFUNCTION, transfer.write)
        transfer.easy.setopt(pycurl.HEADERFUNCTION, transfer.header)
        started_at = self._clock.utcnow()
        start = self._clock.monotonic()
        deadline = time.monotonic() + site.timeout_s  # for the body regex
        self._multi.add_handle(transfer.easy)
        self._transfers[transfer.easy] = transfer
        try:
            async with asyncio.timeout(site.timeout_s + TIMEOUT_GRACE_S):
                code, message = await transfer.future
        except TimeoutError:  # the safety net: libcurl should have ended the check first
            code, message = pycurl.E_OPERATION_TIMEDOUT, "safety net"
        except BaseException:  # cancelled: abort the transfer, free the handle, propagate
            self._discard(transfer)
            transfer.easy.close()
            raise
        self._discard(transfer)
        try:
            matched = await self._search(site, transfer, code, deadline)
            total_ms = (self._clock.monotonic() - start) * _MS
            return self._result(
                site,
                transfer,
                (code, message),
                started_at=started_at,
                total_ms=total_ms,
                matched=matched,
            )
        finally:
            transfer.easy.close()

    async def _search(
        self, site: Site, transfer: _Transfer, code: int, deadline: float
    ) -> bool | RegexTimeoutError | None:
        """The body regex's verdict (None: not evaluated), or the timeout it ran into."""
        if site.spec.regex is None or not (code == 0 or transfer.too_large):
            return None
        body = b"".join(transfer.body)[: site.spec.max_body_bytes + 1]
        text = _decode(body, transfer.easy.getinfo(pycurl.CONTENT_TYPE))
        try:
            return await search_body(site.spec.regex, text, deadline)
        except RegexTimeoutError as exc:
            return exc

    # --- one check ------------------------------------------------------------------------

    def _easy(self, site: Site) -> pycurl.Curl:
        easy = pycurl.Curl()
        setopt = easy.setopt
        setopt(pycurl.URL, site.spec.url)
        setopt(pycurl.NOSIGNAL, 1)
        setopt(pycurl.FRESH_CONNECT, 1)
        setopt(pycurl.FORBID_REUSE, 1)
        setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        setopt(pycurl.REDIR_PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        setopt(pycurl.TIMEOUT_MS, max(1, round(site.timeout_s * _MS)))
        setopt(pycurl.FOLLOWLOCATION, 1 if site.spec.follow_redirects else 0)
        setopt(pycurl.MAXREDIRS, site.spec.max_redirects)
        setopt(pycurl.ACCEPT_ENCODING, "")  # what libcurl can decode; the cap counts decoded
        setopt(pycurl.USERAGENT, self._user_agent)
        setopt(pycurl.DNS_CACHE_TIMEOUT, self._dns_ttl or 0)
        setopt(pycurl.SSL_SESSIONID_CACHE, 1 if self._tls_sessions else 0)
        if self._share is not None:
            setopt(pycurl.SHARE, self._share)
        if self._cafile is not None:
            setopt(pycurl.CAINFO, self._cafile)
        if site.spec.headers:
            setopt(pycurl.HTTPHEADER, [f"{name}: {value}" for name, value in site.spec.headers])
        if site.spec.method == "HEAD":
            setopt(pycurl.NOBODY, 1)
        elif site.spec.method != "GET":
            setopt(pycurl.CUSTOMREQUEST, site.spec.method)
        return easy

    def _result(
        self,
        site: Site,
        transfer: _Transfer,
        outcome: tuple[int, str],
        *,
        started_at: Any,
        total_ms: float,
        matched: bool | RegexTimeoutError | None,
    ) -> CheckResult:
        code, message = outcome
        easy = transfer.easy
        info = easy.getinfo
        status = info(pycurl.RESPONSE_CODE) or None
        final_url: str = info(pycurl.EFFECTIVE_URL)
        stage, timings = _timings(info, site.spec.url, final_url, failed=code != 0)
        kind, detail = ErrorKind.NONE, ""
        regex_matched = None if isinstance(matched, RegexTimeoutError) else matched
        if isinstance(matched, RegexTimeoutError):
            kind, detail = ErrorKind.TIMEOUT, timed_out(site.timeout_s, SEARCHING)
        elif transfer.too_large:
            kind, detail = ErrorKind.BODY_TOO_LARGE, f"body over {site.spec.max_body_bytes} bytes"
        elif transfer.head_too_long:
            kind, detail = ErrorKind.PROTOCOL, HEADER_TOO_LONG
        elif code != 0:
            kind, detail = _classify(code, message, site, stage, easy)
        return CheckResult(
            check_id=new_check_id(),
            site_id=site.id,
            url=site.spec.url,
            region=self._region,
            started_at=started_at,
            ok=judge(site.spec, status, regex_matched, kind),
            total_ms=total_ms,
            status_code=status,
            timings=timings,
            regex_matched=regex_matched,
            bytes_read=transfer.bytes_read,
            final_url=final_url if status is not None else None,
            error_kind=kind,
            error_message=detail,
        )

    def _discard(self, transfer: _Transfer) -> None:
        if self._transfers.pop(transfer.easy, None) is not None and self._multi is not None:
            self._multi.remove_handle(transfer.easy)
        if not transfer.future.done():
            transfer.future.cancel()

    # --- libcurl <-> asyncio ------------------------------------------------------------------

    def _on_socket(self, event: int, fd: int, _multi: Any, _data: Any) -> None:
        # Only what changed is (un)registered: each add/remove is an epoll_ctl system call.
        assert self._loop is not None
        old = self._watched.pop(fd, None)
        if event == pycurl.POLL_REMOVE:
            event = 0
        was_in, was_out = old in _READS, old in _WRITES
        now_in, now_out = event in _READS, event in _WRITES
        if was_in and not now_in:
            self._loop.remove_reader(fd)
        if was_out and not now_out:
            self._loop.remove_writer(fd)
        if now_in and not was_in:
            self._loop.add_reader(fd, self._act, fd, pycurl.CSELECT_IN)
        if now_out and not was_out:
            self._loop.add_writer(fd, self._act, fd, pycurl.CSELECT_OUT)
        if event:
            self._watched[fd] = event

    def _unwatch(self, fd: int) -> None:
        self._on_socket(pycurl.POLL_REMOVE, fd, None, None)

    def _on_timer(self, timeout_ms: int) -> None:
        # libcurl re-arms its timer on almost every action, mostly to the same deadline:
        # keep the scheduled call when it is already due within a millisecond of the new one.
        loop = self._loop
        assert loop is not None
        if self._timer is not None:
            if timeout_ms >= 0 and abs(self._deadline - (loop.time() + timeout_ms / _MS)) < 1e-3:
                return
            self._timer.cancel()
            self._timer = None
        if timeout_ms >= 0:
            self._deadline = loop.time() + timeout_ms / _MS
            self._timer = loop.call_later(timeout_ms / _MS, self._on_deadline)

    def _on_deadline(self) -> None:
        self._timer = None
        self._act(pycurl.SOCKET_TIMEOUT, 0)

    def _act(self, fd: int, event: int) -> None:
        multi = self._multi
        if multi is None:
            return
        multi.socket_action(fd, event)
        while True:
            queued, done, failed = multi.info_read()
            for easy in done:
                self._settle(easy, 0, "")
            for easy, code, message in failed:
                self._settle(easy, code, message)
            if not queued:
                return

    def _settle(self, easy: pycurl.Curl, code: int, message: str) -> None:
        transfer = self._transfers.get(easy)
        if transfer is not None and not transfer.future.done():
            transfer.future.set_result((code, message))


# --- timings and classification ---------------------------------------------------------------


def _timings(info: Any, url: str, final_url: str, *, failed: bool) -> tuple[str, PhaseTimings]:
    """The stage the check ended in, and its phase timings (see ``probe/aiohttp/trace.py`` for what
    each phase means). libcurl's clocks run from the start of the transfer and add up over
    redirect hops; a phase a failed check was in ends at the failure."""
    lookup, connect = info(pycurl.NAMELOOKUP_TIME), info(pycurl.CONNECT_TIME)
    app, pre = info(pycurl.APPCONNECT_TIME), info(pycurl.PRETRANSFER_TIME)
    first, total = info(pycurl.STARTTRANSFER_TIME), info(pycurl.TOTAL_TIME)
    is_tls = final_url.startswith("https:") or url.startswith("https:")
    named = not _is_ip_literal(url)
    dns = lookup * _MS if named and lookup > 0 else None
    if connect <= 0:
        stage = RESOLVING if named and lookup <= 0 else CONNECTING
        if stage == RESOLVING:
            return stage, PhaseTimings(dns_ms=total * _MS)
        return stage, PhaseTimings(dns_ms=dns, connect_ms=max(0.0, total - lookup) * _MS)
    connect_ms = max(0.0, connect - lookup) * _MS
    if is_tls and app <= 0:
        return TLS_STAGE, PhaseTimings(
            dns_ms=dns, connect_ms=connect_ms, tls_ms=max(0.0, total - connect) * _MS
        )
    tls_ms = max(0.0, app - connect) * _MS if is_tls else None
    sent = max(pre, app, connect)
    if first <= 0:
        return WAITING, PhaseTimings(
            dns_ms=dns, connect_ms=connect_ms, tls_ms=tls_ms, ttfb_ms=max(0.0, total - sent) * _MS
        )
    return READING if failed else "done", PhaseTimings(
        dns_ms=dns,
        connect_ms=connect_ms,
        tls_ms=tls_ms,
        ttfb_ms=max(0.0, first - sent) * _MS,
        transfer_ms=max(0.0, total - first) * _MS,
    )


def _os_reason(easy: pycurl.Curl, fallback: str) -> str:
    errno = easy.getinfo(pycurl.OS_ERRNO)
    return os.strerror(errno).lower() if errno else fallback


_VERIFY_CODE = re.compile(r"\s*\(\d+\)$")  # OpenSSL's verify result number, as curl appends it


def _tls_message(code: int, message: str) -> str:
    text = message.split(": ", 1)[-1] if message.startswith("SSL") else message
    text = _VERIFY_CODE.sub("", text)
    if code == pycurl.E_PEER_FAILED_VERIFICATION:
        if "subject name" in message or "does not match" in message:
            return (
                "certificate verify failed: hostname mismatch, certificate is not valid "
                "for the site's name"
            )
        return f"certificate verify failed: {text.removeprefix('SSL certificate problem: ')}"
    return f"TLS error: {text.lower()}"


_TLS_CODES = frozenset(
    getattr(pycurl, name)
    for name in (
        "E_SSL_CONNECT_ERROR",
        "E_PEER_FAILED_VERIFICATION",
        "E_SSL_CERTPROBLEM",
        "E_SSL_CIPHER",
        "E_SSL_CACERT",
        "E_SSL_ISSUER_ERROR",
        "E_SSL_PINNEDPUBKEYNOTMATCH",
        "E_SSL_INVALIDCERTSTATUS",
        "E_SSL_SHUTDOWN_FAILED",
    )
    if hasattr(pycurl, name)
)


# CURLE_WEIRD_SERVER_REPLY (8; pycurl only knows its old FTP name), CURLE_UNSUPPORTED_PROTOCOL
# (1: also "Received HTTP/0.9"), CURLE_HTTP2 (16), CURLE_HTTP2_STREAM (92).
_BAD_RESPONSE_CODES = frozenset({8, pycurl.E_UNSUPPORTED_PROTOCOL, 16, 92})
# CURLE_TOO_LARGE (100; no pycurl name): a status or header line over libcurl's own 100 KiB
# limit, failed before the header callback saw it; it comes with no message.
_TOO_LARGE = 100


def _classify(
    code: int, message: str, site: Site, stage: str, easy: pycurl.Curl
) -> tuple[ErrorKind, str]:
    """The error kind and a short message for libcurl's error ``code`` (never the URLs of
    redirects: a ``Location`` may carry tokens)."""
    if code in _TLS_CODES:
        return ErrorKind.TLS, _tls_message(code, message)
    if code in (pycurl.E_RECV_ERROR, pycurl.E_SEND_ERROR):
        if "header" in message.lower():  # libcurl's cap on header size, not the network
            return ErrorKind.PROTOCOL, f"invalid HTTP response: {_first_line(message)}"
        reason = _os_reason(easy, "connection broken")
        if stage == TLS_STAGE:  # TCP was up: a reset mid-handshake is a TLS failure
            return ErrorKind.TLS, f"TLS handshake failed: {reason}"
        return ErrorKind.PROTOCOL, f"{reason} {stage}"
    if code in (pycurl.E_UNSUPPORTED_PROTOCOL, pycurl.E_URL_MALFORMAT):
        if easy.getinfo(pycurl.REDIRECT_COUNT) > 0:
            kind = "a non-HTTP" if code == pycurl.E_UNSUPPORTED_PROTOCOL else "an invalid"
            return ErrorKind.PROTOCOL, f"redirect to {kind} URL"
        if code == pycurl.E_URL_MALFORMAT:
            return ErrorKind.INTERNAL, "invalid site URL (malformed)"
    if code == _TOO_LARGE:
        return ErrorKind.PROTOCOL, HEADER_TOO_LONG
    if code in _BAD_RESPONSE_CODES:
        return ErrorKind.PROTOCOL, f"invalid HTTP response: {_first_line(message)}"
    rule = _RULES.get(code)
    if rule is not None:
        return rule(site, stage, easy, message)
    return ErrorKind.INTERNAL, f"unexpected curl error {code}: {_first_line(message)}"


_Rule = Any  # (site, stage, easy, message) -> (ErrorKind, str)
_RULES: dict[int, _Rule] = {
    pycurl.E_OPERATION_TIMEDOUT: lambda site, stage, _e, _m: (
        ErrorKind.TIMEOUT,
        timed_out(site.timeout_s, stage),
    ),
    pycurl.E_TOO_MANY_REDIRECTS: lambda site, _s, _e, _m: (
        ErrorKind.TOO_MANY_REDIRECTS,
        f"more than {site.spec.max_redirects} redirects",
    ),
    pycurl.E_COULDNT_RESOLVE_HOST: lambda _site, _s, easy, _m: (
        ErrorKind.DNS,
        f"name not resolved: {_os_reason(easy, 'no address found')}",
    ),
    pycurl.E_COULDNT_CONNECT: lambda _site, _s, easy, _m: (
        ErrorKind.CONNECT,
        _os_reason(easy, "could not connect"),
    ),
    pycurl.E_GOT_NOTHING: lambda _site, stage, _e, _m: (
        ErrorKind.PROTOCOL,
        f"server closed the connection {stage}",
    ),
    pycurl.E_PARTIAL_FILE: lambda _site, _s, _e, message: (
        ErrorKind.PROTOCOL,
        f"invalid response body: {_first_line(message)}",
    ),
    pycurl.E_BAD_CONTENT_ENCODING: lambda _site, _s, _e, message: (
        ErrorKind.PROTOCOL,
        f"invalid response body: {_first_line(message)}",
    ),
}


def _first_line(message: str) -> str:
    text = message.strip()
    return text.splitlines()[0] if text else "no detail"


def _decode(body: bytes, content_type: str | None) -> str:
    """The body as text for the regex: the declared charset, else UTF-8; never fails."""
    charset = None
    if content_type:
        for part in content_type.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip("\"' ")
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")
