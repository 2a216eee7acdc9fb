"""The server's leaf certificate, read from the TLS handshake libcurl shows its debug callback.

With ``VERBOSE`` on (needed anyway: libcurl tells the negotiated version only in its verbose
text), libcurl hands the debug callback every TLS handshake message it receives, decrypted
(``CURLINFO_SSL_DATA_IN``), the server's Certificate message among them. Reading the leaf
from it spares ``CERTINFO``, for which libcurl prints every certificate of the chain as text
(extensions, public key, PEM) on every handshake, and the PEM-to-DER round trip.
"""

from __future__ import annotations

CERTIFICATE_MESSAGE = 11  # HandshakeType certificate (RFC 5246 7.4, RFC 8446 4)
TLS13 = "TLSv1.3"


def leaf_certificate(message: bytes, version: str) -> bytes | None:
    """The DER bytes of the first (leaf) certificate of a Certificate handshake message
    (its 4-byte header included), as ``version`` lays it out: TLS 1.3 puts a
    ``certificate_request_context`` before the list (RFC 8446 4.4.2), earlier versions do
    not (RFC 5246 7.4.2). ``None`` when the message does not hold one."""
    if len(message) < 4 or message[0] != CERTIFICATE_MESSAGE:
        return None
    at = 4
    if version == TLS13:
        if len(message) < 5:
            return None
        at += 1 + message[4]
    list_end = min(len(message), at + 3 + int.from_bytes(message[at : at + 3], "big"))
    size = int.from_bytes(message[at + 3 : at + 6], "big")
    start = at + 6
    if size == 0 or start + size > list_end:
        return None
    return message[start : start + size]
