"""One bounded HTTP POST, shared by the notifiers: the outcome is a ``Delivery``, never an
exception.

Bounded whatever the receiver does: one total timeout covers connecting, sending, the
status line, the headers and the part of the body that is read; the body of an error answer
is read up to a cap (a snippet goes into the error text) and the body of a success is not
read at all, so a 100 MB or byte-dripping answer costs at most the timeout. Redirects are not
followed (a webhook that redirects is misconfigured, and following it would carry the body
and its signature to another host). Responses are not decompressed (no gzip bomb).

Error texts are built here from the failure's kind, never from ``str(exception)``: aiohttp
quotes full URLs (a Slack webhook URL *is* its secret), and whatever is left (the receiver's
own answer) passes through a ``Redactor`` holding every secret of the notifier.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import ssl
import urllib.parse
from collections.abc import Iterable, Mapping

import aiohttp

from sitemon_core.alerting.models import Delivery

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024
SNIPPET_CHARS = 200  # of a receiver's error answer, quoted in Delivery.error
# The safety net behind aiohttp's own total timeout, in case a phase escapes it (e.g. a
# slow thread-pool DNS lookup); it should never be what fires.
TIMEOUT_GRACE_S = 0.5
REDACTED = "[redacted]"


def _version() -> str:
    try:
        return importlib.metadata.version("sitemon")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


USER_AGENT = f"sitemon/{_version()}"


class Redactor:
    """Replaces every known secret (and its percent-encoded form) in a text."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        """Remember the non-empty ``secrets``; longest first, so a secret that contains
        another is replaced whole."""
        forms = set()
        for secret in secrets:
            if secret:
                forms.update(
                    {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret)}
                )
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """``text`` with every stretch covered by a secret replaced by ``[redacted]``.

        Occurrences are found in the original text first, then merged: overlapping or
        adjacent secrets disappear whole (replacing one after the other could leave a part
        of the second).
        """
        covered = [False] * len(text)
        for form in self._forms:
            start = text.find(form)
            while start != -1:
                covered[start : start + len(form)] = [True] * len(form)
                start = text.find(form, start + 1)
        out: list[str] = []
        for i, ch in enumerate(text):
            if not covered[i]:
                out.append(ch)
            elif i == 0 or not covered[i - 1]:
                out.append(REDACTED)
        return "".join(out)

    @property
    def longest(self) -> int:
        """Length of the longest form, in characters (0 without secrets)."""
        return len(self._forms[0]) if self._forms else 0

    def __repr__(self) -> str:
        return f"Redactor({len(self._forms)} forms)"


def origin(url: str) -> str:
    """``host:port`` of a URL: what an error or a repr may show of a secret-bearing URL."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


MIN_URL_SECRET_CHARS = 8


def url_secrets(url: str) -> list[str]:
    """What of a secret-bearing URL (a Slack webhook's token is its last path segment) an
    error must not show: the URL, its path and query, and every path segment or query value
    of at least 8 characters (shorter ones are words like ``hooks``, not tokens)."""
    parts = urllib.parse.urlsplit(url)
    found = [url, parts.path, parts.query, f"{parts.path}?{parts.query}"]
    pieces = parts.path.split("/") + [v for _, v in urllib.parse.parse_qsl(parts.query)]
    found += [piece for piece in pieces if len(piece) >= MIN_URL_SECRET_CHARS]
    return [secret for secret in found if secret not in ("", "/", "?")]


def check_url(url: str, what: str) -> None:
    """Raise ``ValueError`` unless ``url`` is an absolute http(s) URL without credentials.

    The message never quotes the URL: it may be a secret (a Slack webhook URL is).
    """
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"{what}: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what}: must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{what}: credentials belong in their own settings, not in the URL")


def _os_reason(error: BaseException | None) -> str:
    """'connection refused' rather than "[Errno 111] Connect call failed ('1.2.3.4', 80)"."""
    if isinstance(error, OSError) and error.errno is not None and error.errno > 0:
        return os.strerror(error.errno).lower()
    return type(error).__name__ if error is not None else "connection failed"


def _failure(exc: BaseException, timeout_s: float) -> Delivery:
    """Classify an exception of one attempt; every one but a bad URL is worth a retry."""
    if isinstance(exc, TimeoutError):  # asyncio's, and aiohttp's ServerTimeoutError
        return Delivery(delivered=False, retriable=True, error=f"timed out after {timeout_s:g} s")
    if isinstance(exc, aiohttp.InvalidURL):
        return Delivery(delivered=False, error="invalid URL")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        reason = f"name not resolved: {_os_reason(exc.os_error)}"
    elif isinstance(exc, aiohttp.ClientConnectorCertificateError):
        reason = "TLS certificate rejected"
        if isinstance(exc.certificate_error, ssl.SSLCertVerificationError):
            reason += f": {exc.certificate_error.verify_message}"
    elif isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        reason = "TLS handshake failed"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        reason = _os_reason(exc.os_error)
    elif isinstance(exc, aiohttp.ServerDisconnectedError):
        reason = "server closed the connection"
    elif isinstance(exc, aiohttp.ClientResponseError):
        reason = "invalid HTTP response"
    elif isinstance(exc, OSError):
        reason = _os_reason(exc)
    else:
        reason = f"request failed ({type(exc).__name__})"
    return Delivery(delivered=False, retriable=True, error=reason)


def _printable(text: str) -> str:
    """One line of text: control characters become spaces, runs of blanks one space."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(cleaned.split())


class HttpPoster:
    """Owns one ``aiohttp.ClientSession`` and POSTs bodies with it, one bounded attempt each.

    ``open()`` must run inside the event loop that will use it; ``close()`` releases the
    connections. The notifiers call both from their ``async with``.
    """

    def __init__(
        self, *, timeout_s: float, max_response_bytes: int, secrets: Iterable[str | None]
    ) -> None:
        """``secrets``: every secret the requests carry (tokens, passwords, URLs), kept out
        of error texts."""
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if max_response_bytes < 0:
            raise ValueError("max_response_bytes must not be negative")
        self.timeout_s = timeout_s
        self.max_response_bytes = max_response_bytes
        self.redact = Redactor(secrets)
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        """Create the session (idempotent)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                # ceil_threshold=inf: aiohttp would otherwise round the timeout up to a
                # whole second of loop time.
                timeout=aiohttp.ClientTimeout(total=self.timeout_s, ceil_threshold=float("inf")),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            )

    async def close(self) -> None:
        """Close the session and its connections (idempotent)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Delivery:
        """POST ``body`` to ``url`` once and classify the outcome; never raises (but
        ``RuntimeError`` when used before ``open()``, a programming error).

        2xx: delivered. 429 and 5xx: retriable. Any other status (3xx included, as
        redirects are not followed): not retriable. Refused, reset, DNS, TLS, a broken
        answer, a timeout: retriable.
        """
        session = self._session
        if session is None:
            raise RuntimeError("HttpPoster.post() before open()")
        try:
            async with asyncio.timeout(self.timeout_s + TIMEOUT_GRACE_S):
                return await self._exchange(session, url, body, headers)
        except Exception as exc:  # any receiver failure; CancelledError is not an Exception
            return _failure(exc, self.timeout_s)

    async def _exchange(
        self, session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str]
    ) -> Delivery:
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
            status = resp.status
            if 200 <= status < 300:
                # The answer is not read: the receiver accepted, and its body could be
                # endless. Closing (not releasing) drops the connection instead of draining.
                resp.close()
                return Delivery(delivered=True)
            snippet = await self._snippet(resp)
            resp.close()
        retriable = status == 429 or status >= 500
        text = f"HTTP {status}" + (f": {snippet}" if snippet else "")
        if 300 <= status < 400:
            text += " (redirects are not followed)"
        return Delivery(delivered=False, retriable=retriable, error=text)

    async def _snippet(self, resp: aiohttp.ClientResponse) -> str:
        """The start of an error answer, read up to the byte cap (or the timeout), redacted,
        on one line."""
        data, cut = b"", False
        try:
            while chunk := await resp.content.read(self.max_response_bytes - len(data)):
                data += chunk
                if len(data) >= self.max_response_bytes:
                    cut = not resp.content.at_eof()
                    break
        except (aiohttp.ClientError, TimeoutError):
            cut = True  # a broken or too slow body still leaves the status to report
        text = data.decode("utf-8", errors="replace")
        if cut:  # a secret cut in half at the end would escape the redaction
            text = text[: max(0, len(text) - self.redact.longest)]
        text = _printable(self.redact(text))
        return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"
