"""Classifying a failed check: exception -> (ErrorKind, short human message).

Every failure of a target becomes data. The rules are checked in order, first match wins;
the order matters because aiohttp's exception classes overlap (its TLS errors are connector
errors, its server timeouts are ``asyncio.TimeoutError``, too-many-redirects is a
response error). Messages never include request headers (they may hold credentials) nor
full URLs from the target (a redirect ``Location`` may carry tokens).

A connection reset by the peer *after* the TCP handshake completed is PROTOCOL, not
CONNECT: the host did accept the connection, and then broke the HTTP exchange.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable

import aiohttp
from aiohttp.http_exceptions import LineTooLong

from sitemon_adapters.probe.http_common.stages import TLS_STAGE, timed_out
from sitemon_core.models import ErrorKind, HttpSite

Rule = Callable[[BaseException, HttpSite, str], tuple[ErrorKind, str]]


def _os_reason(error: BaseException | None) -> str:
    """'connection refused' rather than "[Errno 111] Connect call failed ('1.2.3.4', 80)"."""
    if isinstance(error, OSError) and error.errno is not None and error.errno > 0:
        return os.strerror(error.errno).lower()
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__


def _too_many_redirects(_exc: BaseException, site: HttpSite, _stage: str) -> tuple[ErrorKind, str]:
    return ErrorKind.TOO_MANY_REDIRECTS, f"more than {site.spec.max_redirects} redirects"


def _tls(exc: BaseException, _site: HttpSite, _stage: str) -> tuple[ErrorKind, str]:
    cause: BaseException = exc
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cause = exc.certificate_error
    elif isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error
    if isinstance(cause, ssl.SSLCertVerificationError):
        return ErrorKind.TLS, f"certificate verify failed: {cause.verify_message}"
    if isinstance(cause, ssl.SSLError) and cause.reason:
        return ErrorKind.TLS, f"TLS error: {cause.reason.lower().replace('_', ' ')}"
    return ErrorKind.TLS, f"TLS error: {_os_reason(cause)}"


def _dns(exc: BaseException, _site: HttpSite, _stage: str) -> tuple[ErrorKind, str]:
    assert isinstance(exc, aiohttp.ClientConnectorError)
    return ErrorKind.DNS, f"name not resolved: {_os_reason(exc.os_error)}"


def _connect(exc: BaseException, _site: HttpSite, stage: str) -> tuple[ErrorKind, str]:
    assert isinstance(exc, aiohttp.ClientConnectorError)
    reason = _os_reason(exc.os_error)
    if stage == TLS_STAGE:  # TCP was up: a reset or close mid-handshake is a TLS failure
        return ErrorKind.TLS, f"TLS handshake failed: {reason}"
    return ErrorKind.CONNECT, reason


def _timeout(_exc: BaseException, site: HttpSite, stage: str) -> tuple[ErrorKind, str]:
    return ErrorKind.TIMEOUT, timed_out(site.timeout_s, stage)


def _bad_redirect(exc: BaseException, _site: HttpSite, _stage: str) -> tuple[ErrorKind, str]:
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return ErrorKind.PROTOCOL, "redirect to a non-HTTP URL"
    return ErrorKind.PROTOCOL, "redirect to an invalid URL"


def _bad_site_url(exc: BaseException, _site: HttpSite, _stage: str) -> tuple[ErrorKind, str]:
    return ErrorKind.INTERNAL, f"invalid site URL ({type(exc).__name__})"


def _disconnected(_exc: BaseException, _site: HttpSite, stage: str) -> tuple[ErrorKind, str]:
    return ErrorKind.PROTOCOL, f"server closed the connection {stage}"


def _first_line(error: BaseException) -> str:
    """The headline of an aiohttp parser error, without its multi-line dump of the bytes."""
    text = str(getattr(error, "message", "") or error).strip()
    return text.splitlines()[0].rstrip(":") if text else type(error).__name__


def _bad_body(exc: BaseException, _site: HttpSite, _stage: str) -> tuple[ErrorKind, str]:
    return ErrorKind.PROTOCOL, f"invalid response body: {_first_line(exc.__cause__ or exc)}"


def _bad_response(exc: BaseException, _site: HttpSite, _stage: str) -> tuple[ErrorKind, str]:
    cause = exc.__cause__
    while cause is not None and not isinstance(cause, LineTooLong):
        cause = cause.__cause__
    if cause is not None:
        # aiohttp's message quotes the line's first 100 bytes: a cookie or token of the
        # target must not end up in published results. args[1] is the limit.
        too_long = f"status or header line over {cause.args[1]} bytes"
        return ErrorKind.PROTOCOL, f"invalid HTTP response: {too_long}"
    return ErrorKind.PROTOCOL, f"invalid HTTP response: {_first_line(exc)}"


def _connection_lost(exc: BaseException, _site: HttpSite, stage: str) -> tuple[ErrorKind, str]:
    return ErrorKind.PROTOCOL, f"{_os_reason(exc)} {stage}"


_RULES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Rule], ...] = (
    (aiohttp.TooManyRedirects, _too_many_redirects),
    ((aiohttp.ClientSSLError, ssl.SSLError), _tls),
    (aiohttp.ClientConnectorDNSError, _dns),
    (aiohttp.ClientConnectorError, _connect),
    (TimeoutError, _timeout),  # asyncio.TimeoutError and aiohttp's ServerTimeoutError
    (aiohttp.RedirectClientError, _bad_redirect),
    ((aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError), _bad_site_url),
    (aiohttp.ServerDisconnectedError, _disconnected),
    (aiohttp.ClientPayloadError, _bad_body),
    (aiohttp.ClientResponseError, _bad_response),
    ((aiohttp.ClientConnectionError, ConnectionError), _connection_lost),
)


def classify(exc: BaseException, site: HttpSite, stage: str) -> tuple[ErrorKind, str]:
    """The error kind and a short message for ``exc``, raised while checking ``site``.

    ``stage`` says what the check was doing ("connecting", "reading the body"...); it makes
    timeouts and disconnects say where they happened. Unknown exceptions are INTERNAL, with
    their type in the message.
    """
    for types, rule in _RULES:
        if isinstance(exc, types):
            return rule(exc, site, stage)
    return ErrorKind.INTERNAL, f"unexpected {type(exc).__name__}: {exc}"
