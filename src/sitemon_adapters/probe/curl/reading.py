"""What the curl prober makes of a finished transfer: the body regex's verdict, the
header and JSON conditions, and the TLS facts of the connection."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pycurl

from sitemon_adapters.probe.curl.handshake import leaf_certificate
from sitemon_adapters.probe.curl.loop import Outcome
from sitemon_adapters.probe.curl.transfer import Transfer
from sitemon_adapters.probe.http_common.body_regex import RegexTimeoutError, search_body
from sitemon_adapters.probe.http_common.certificate import pem_to_der
from sitemon_adapters.probe.http_common.conditions import Failure, failed_header, failed_json
from sitemon_adapters.probe.http_common.peer import TlsFacts, facts, rejected_certificate
from sitemon_core.models import HttpSite, HttpSpec


def conditions(spec: HttpSpec, transfer: Transfer, truncated: bool) -> Failure | None:
    """The first header or JSON condition the final response missed."""
    missed = failed_header(spec, transfer.header_values) if spec.headers_expected else None
    if missed is None and spec.json_conditions:
        body = b"".join(transfer.body)[: spec.max_body_bytes]
        charset = _charset(transfer.easy.getinfo(pycurl.CONTENT_TYPE))
        missed = failed_json(spec, body, charset, truncated)
    return missed


async def search(
    site: HttpSite, transfer: Transfer, code: int, deadline: float
) -> bool | RegexTimeoutError | None:
    """The body regex's verdict (None: not evaluated), or the timeout it ran into."""
    if site.spec.regex is None or not (code == 0 or transfer.too_large):
        return None
    cap = site.spec.max_body_bytes
    body = b"".join(transfer.body)[: cap + 1 if site.spec.fail_on_large_body else cap]
    text = _decode(body, transfer.easy.getinfo(pycurl.CONTENT_TYPE))
    try:
        return await search_body(site.spec.regex, text, deadline)
    except RegexTimeoutError as exc:
        return exc


async def tls_facts(
    transfer: Transfer, outcome: Outcome, deadline: float, server_name: str | None
) -> TlsFacts | None:
    """The certificate and version of the check's (last) TLS connection: its handshake's
    Certificate message (``CERTINFO`` on a resumed session), a second unverified handshake
    after a rejected one."""
    easy = transfer.easy
    if outcome[0] == pycurl.E_PEER_FAILED_VERIFICATION:
        url = urlsplit(transfer.url_back(easy.getinfo(pycurl.EFFECTIVE_URL)))
        if url.scheme != "https" or not url.hostname:
            return None
        left = deadline - time.monotonic()
        return await rejected_certificate(url.hostname, url.port or 443, server_name, left)
    if transfer.tls_version is None:
        return None
    der = None
    if transfer.certificate is not None:
        der = leaf_certificate(transfer.certificate, transfer.tls_version)
    else:  # a resumed session (``tls_session_cache``): libcurl's CERTINFO, if asked for
        chain = easy.getinfo(pycurl.INFO_CERTINFO) or []
        pem = dict(chain[0]).get("Cert") if chain else None
        der = pem_to_der(pem) if isinstance(pem, str) else None
    return facts(der, transfer.tls_version)


def _charset(content_type: str | None) -> str | None:
    """The charset a Content-Type declares, if any."""
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip("\"' ")
    return None


def _decode(body: bytes, content_type: str | None) -> str:
    """The body as text for the regex: the declared charset, else UTF-8; never fails."""
    charset = _charset(content_type)
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")
