"""What a check records of a server certificate: its ``notAfter`` and its issuer.

Both HTTP engines (and the TCP probe) hand this the leaf certificate as DER bytes: the
aiohttp engine from the TLS object, libcurl from ``CURLINFO_CERTINFO``'s PEM, and either
from a non-verifying second handshake when verification failed (``peer.py``). One small
DER reader for the two fields, so every engine records exactly the same text; a
certificate it cannot read gives ``None`` fields, never an exception.

A site's certificate is the same check after check, so the facts are cached, keyed by the
certificate's DER bytes themselves (never by the host): a rotated certificate is other
bytes, hence read afresh, and equal bytes cannot have other facts.
"""

from __future__ import annotations

import base64
import functools
from datetime import UTC, datetime

import attrs

MAX_ISSUER = 200
# Distinct leaf certificates whose facts are kept (~2 kB of DER each, so a few MB at most);
# sites that share a certificate (one host, a wildcard, a CDN) share the entry.
CACHED_CERTIFICATES = 2048
_SEQUENCE, _SET, _UTC_TIME, _GENERALIZED_TIME = 0x30, 0x31, 0x17, 0x18
_ATTRIBUTE_NAMES = {  # RFC 4514 short names of the usual issuer attributes
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
}


class _BadDerError(ValueError):
    """The bytes are not the DER this reader expects."""


@attrs.frozen
class CertificateFacts:
    """The leaf certificate's expiry and issuer (``None`` where unreadable)."""

    not_after: datetime | None = None
    issuer: str | None = None


def _read(der: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of the content, end of the content) of the DER element at ``at``."""
    if at + 2 > len(der):
        raise _BadDerError("truncated")
    tag, length, start = der[at], der[at + 1], at + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or start + count > len(der):
            raise _BadDerError("bad length")
        length = int.from_bytes(der[start : start + count], "big")
        start += count
    if start + length > len(der):
        raise _BadDerError("truncated")
    return tag, start, start + length


def _children(der: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        element = _read(der, start)
        out.append(element)
        start = element[2]
    return out


def _oid(raw: bytes) -> str:
    if not raw:
        return ""
    parts = [raw[0] // 40, raw[0] % 40]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _issuer(der: bytes, start: int, end: int) -> str:
    """RFC 4514 text of a Name (most specific attribute first): ``CN=R3,O=Let's Encrypt``."""
    pairs = []
    for _tag, set_start, set_end in _children(der, start, end):
        for _t, seq_start, seq_end in _children(der, set_start, set_end):
            (_, oid_s, oid_e), (_, value_s, value_e) = _children(der, seq_start, seq_end)[:2]
            oid = _oid(der[oid_s:oid_e])
            # Certificate text is the server's: decoded leniently, control characters out.
            value = der[value_s:value_e].decode("utf-8", "replace")
            value = "".join(c if c.isprintable() else "?" for c in value)
            pairs.append(f"{_ATTRIBUTE_NAMES.get(oid, oid)}={value}")
    text = ",".join(reversed(pairs))
    return text if len(text) <= MAX_ISSUER else text[: MAX_ISSUER - 1] + "…"


def _time(tag: int, raw: bytes) -> datetime:
    text = raw.decode("ascii").rstrip("Z")
    if tag == _UTC_TIME:  # YYMMDDHHMMSS; RFC 5280: YY >= 50 is 19YY
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != _GENERALIZED_TIME:
        raise _BadDerError("not a time")
    return datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def read_certificate(der: bytes | None) -> CertificateFacts:
    """The expiry and issuer of the X.509 certificate ``der``; empty facts if unreadable.

    Cached by the DER bytes (an LRU of ``CACHED_CERTIFICATES``): parsing costs tens of µs a
    check, a lookup well under one."""
    if not der:
        return CertificateFacts()
    return _parsed(der)


@functools.lru_cache(maxsize=CACHED_CERTIFICATES)
def _parsed(der: bytes) -> CertificateFacts:
    try:
        _, cert_s, _cert_e = _read(der, 0)
        _, tbs_s, tbs_e = _read(der, cert_s)
        fields = _children(der, tbs_s, tbs_e)
        if fields and fields[0][0] == 0xA0:  # [0] EXPLICIT version
            fields = fields[1:]
        # serialNumber, signature, issuer, validity, subject...
        _, issuer_s, issuer_e = fields[2]
        _, validity_s, validity_e = fields[3]
        not_after_tag, na_s, na_e = _children(der, validity_s, validity_e)[1]
        return CertificateFacts(
            not_after=_time(not_after_tag, der[na_s:na_e]),
            issuer=_issuer(der, issuer_s, issuer_e),
        )
    except (_BadDerError, ValueError, IndexError, UnicodeDecodeError):
        return CertificateFacts()


def pem_to_der(pem: str) -> bytes | None:
    """The DER bytes of the first certificate in ``pem`` (``None`` if there is none)."""
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    start = pem.find(begin)
    stop = pem.find(end, start)
    if start < 0 or stop < 0:
        return None
    try:
        return base64.b64decode("".join(pem[start + len(begin) : stop].split()), validate=True)
    except ValueError:
        return None
