"""Reading the leaf certificate from a TLS Certificate handshake message (curl engine)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sitemon_adapters.probe.curl.handshake import leaf_certificate

_der = st.binary(min_size=1, max_size=3000)
_chain = st.lists(_der, min_size=0, max_size=3)


def _u24(n: int) -> bytes:
    return n.to_bytes(3, "big")


def _message(body: bytes) -> bytes:
    return bytes([11]) + _u24(len(body)) + body


def tls12(leaf: bytes, rest: list[bytes]) -> bytes:
    """RFC 5246 7.4.2: certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>."""
    entries = b"".join(_u24(len(cert)) + cert for cert in [leaf, *rest])
    return _message(_u24(len(entries)) + entries)


def tls13(leaf: bytes, rest: list[bytes], context: bytes) -> bytes:
    """RFC 8446 4.4.2: a request context, then entries with their extensions."""
    entries = b"".join(_u24(len(cert)) + cert + b"\x00\x00" for cert in [leaf, *rest])
    return _message(bytes([len(context)]) + context + _u24(len(entries)) + entries)


@given(_der, _chain)
def test_the_leaf_of_a_tls12_message(leaf: bytes, rest: list[bytes]) -> None:
    assert leaf_certificate(tls12(leaf, rest), "TLSv1.2") == leaf


@given(_der, _chain, st.binary(max_size=255))
def test_the_leaf_of_a_tls13_message(leaf: bytes, rest: list[bytes], context: bytes) -> None:
    assert leaf_certificate(tls13(leaf, rest, context), "TLSv1.3") == leaf


@given(_der, _chain, st.integers(min_value=1))
def test_a_cut_message_has_no_leaf(leaf: bytes, rest: list[bytes], cut: int) -> None:
    message = tls13(leaf, rest, b"")
    shorter = message[: max(0, 4 + 1 + 3 + 3 + len(leaf) - cut)]
    assert leaf_certificate(shorter, "TLSv1.3") is None


def test_an_empty_list_has_no_leaf() -> None:
    assert leaf_certificate(_message(_u24(0)), "TLSv1.2") is None
    assert leaf_certificate(_message(b"\x00" + _u24(0)), "TLSv1.3") is None


@given(st.binary(max_size=64), st.sampled_from(["TLSv1.2", "TLSv1.3", "TLSv1"]))
def test_any_bytes_give_bytes_or_none(raw: bytes, version: str) -> None:
    leaf = leaf_certificate(raw, version)
    assert leaf is None or (len(leaf) > 0 and leaf in raw)
