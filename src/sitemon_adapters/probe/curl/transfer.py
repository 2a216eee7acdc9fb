"""What one check's transfer reads: libcurl's write and header callbacks, with the caps."""

from __future__ import annotations

from collections.abc import Callable

import pycurl

from sitemon_adapters.probe.curl.handshake import CERTIFICATE_MESSAGE
from sitemon_adapters.probe.http_common.stages import MAX_HEADER_LINE_BYTES


class Transfer:
    """One check in flight: the easy handle and what its callbacks read."""

    __slots__ = (
        "body",
        "bytes_read",
        "cap",
        "certificate",
        "easy",
        "head_too_long",
        "headers",
        "keep",
        "tls_version",
        "too_large",
        "url_back",
    )

    def __init__(self, easy: pycurl.Curl, cap: int, keep: bool) -> None:
        """Hook the callbacks to ``easy``: count at most ``cap`` body bytes, keep them if
        ``keep`` (a regex needs them)."""
        self.easy = easy
        self.cap = cap
        self.keep = keep
        self.body: list[bytes] = []
        self.bytes_read = 0
        self.too_large = False
        self.head_too_long = False
        self.tls_version: str | None = None
        # The last Certificate handshake message received (see ``handshake``).
        self.certificate: bytes | None = None
        # The final response's headers (lower-case name -> values), when conditions need them.
        self.headers: dict[str, list[str]] | None = None
        # libcurl's effective URL -> the site's (see ``tls_options``: server_name).
        self.url_back: Callable[[str], str] = _same_url
        easy.setopt(pycurl.WRITEFUNCTION, self.write)
        easy.setopt(pycurl.HEADERFUNCTION, self.header)

    def watch_tls(self, *, certinfo: bool = False) -> None:
        """Collect the server certificate and the negotiated TLS version (HTTPS only).

        libcurl tells the version only in its verbose text ("SSL connection using TLSv1.3 /
        ..."), so the debug callback costs a Python call per debug event; the certificate
        comes from the same callback (the handshake's Certificate message, ``handshake``).
        ``certinfo`` also asks libcurl for the chain (``CERTINFO``, costly): a resumed TLS
        session sends no Certificate message, but libcurl still knows the session's chain.
        """
        self.easy.setopt(pycurl.VERBOSE, 1)
        self.easy.setopt(pycurl.DEBUGFUNCTION, self.debug)
        if certinfo:
            self.easy.setopt(pycurl.OPT_CERTINFO, 1)

    def debug(self, kind: int, text: bytes) -> None:
        """libcurl's debug callback: keep the TLS version from its informational text and
        the server's Certificate handshake message (the only handshake message of type 11;
        record headers and content types, also shown, start with 20-24)."""
        if kind == 0:  # CURLINFO_TEXT
            if text.startswith(_TLS_LINE):
                version = text[len(_TLS_LINE) :].split(b" ", 1)[0]
                self.tls_version = version.decode("ascii", "replace")
        elif kind == _SSL_DATA_IN and text[:1] == _CERTIFICATE:
            self.certificate = text

    def write(self, chunk: bytes) -> int | None:
        """libcurl's write callback: count (and keep) body bytes; abort past the cap."""
        self.bytes_read += len(chunk)
        if self.keep:
            self.body.append(chunk)
        if self.bytes_read > self.cap:
            self.too_large = True  # the prober decides: fail, or judge the part read
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
            return 0  # aborts the transfer (CURLE_WRITE_ERROR); the prober reads the flag
        if self.headers is not None:
            self._keep_header(self.headers, line)
        return None

    def header_values(self, name: str) -> list[str]:
        """The values of header ``name`` (lower case) in the final response."""
        return self.headers.get(name, []) if self.headers is not None else []

    @staticmethod
    def _keep_header(headers: dict[str, list[str]], line: bytes) -> None:
        if line.startswith(b"HTTP/"):  # a new response (a redirect hop): start over
            headers.clear()
            return
        name, colon, value = line.decode("latin-1").partition(":")
        if colon:
            headers.setdefault(name.strip().lower(), []).append(value.strip())


_TLS_LINE = b"SSL connection using "
_SSL_DATA_IN = pycurl.INFOTYPE_SSL_DATA_IN
_CERTIFICATE = bytes([CERTIFICATE_MESSAGE])


def _same_url(url: str) -> str:
    return url


def _field_too_long(line: bytes) -> bool:
    """Whether a long header line has a name or value over the limit. aiohttp's parser (C,
    llhttp) checks each on its own, the value without the whitespace around it (it adds the
    name's length only for the first header); a status line has no colon, so all of it
    counts, like aiohttp's limit on the status line."""
    name, _, value = line.partition(b":")
    limit = MAX_HEADER_LINE_BYTES
    return len(name) > limit or len(value.strip(b" \t\r\n")) > limit
