"""libcurl's error codes -> the ``ErrorKind`` set, with the aiohttp prober's messages where
the two libraries can tell the same things apart (never the URLs of redirects: a
``Location`` may carry tokens)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import pycurl

from sitemon_adapters.probe.http_common.stages import MAX_HEADER_LINE_BYTES, TLS_STAGE, timed_out
from sitemon_core.models import ErrorKind, HttpSite

# The aiohttp prober's header limit: a header name or value over it is a PROTOCOL error,
# where libcurl alone accepts lines up to 100 KiB. See ``Transfer.header``.
HEADER_TOO_LONG = f"invalid HTTP response: status or header line over {MAX_HEADER_LINE_BYTES} bytes"

Classified = tuple[ErrorKind, str]

_VERIFY_CODE = re.compile(r"\s*\(\d+\)$")  # OpenSSL's verify result number, as curl appends it

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


def classify(code: int, message: str, site: HttpSite, stage: str, easy: pycurl.Curl) -> Classified:
    """The error kind and a short message for libcurl's error ``code``, raised in ``stage``."""
    if code in _TLS_CODES:
        return ErrorKind.TLS, _tls_message(code, message)
    if code in (pycurl.E_RECV_ERROR, pycurl.E_SEND_ERROR):
        return _broken(message, stage, easy)
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


def _broken(message: str, stage: str, easy: pycurl.Curl) -> Classified:
    """A send or receive error: libcurl's header size cap, else the network."""
    if "header" in message.lower():  # libcurl's cap on header size, not the network
        return ErrorKind.PROTOCOL, f"invalid HTTP response: {_first_line(message)}"
    reason = _os_reason(easy, "connection broken")
    if stage == TLS_STAGE:  # TCP was up: a reset mid-handshake is a TLS failure
        return ErrorKind.TLS, f"TLS handshake failed: {reason}"
    return ErrorKind.PROTOCOL, f"{reason} {stage}"


def _os_reason(easy: pycurl.Curl, fallback: str) -> str:
    errno = easy.getinfo(pycurl.OS_ERRNO)
    return os.strerror(errno).lower() if errno else fallback


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


def _first_line(message: str) -> str:
    text = message.strip()
    return text.splitlines()[0] if text else "no detail"


_Rule = Callable[[HttpSite, str, pycurl.Curl, str], Classified]  # (site, stage, easy, message)
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
