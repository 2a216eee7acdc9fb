"""Hostile targets: servers and certificates that try to hang, flood or confuse a prober.

Used by ``test_hostile_sites.py``. Every behaviour is a raw asyncio handler for
``targets.raw_server`` (byte-level control, nothing buffered on the server side) and costs
the *server* little: the 200 MB body is written lazily from one shared 64 KiB block, the
gzip bomb (1 GiB of zeros, about 1 MB compressed) is built once from one repeated deflate
block, and nothing waits for more than a client close.

The TLS certificates come from a throwaway CA made with the ``openssl`` CLI (``openssl ca``
for the expired one, since ``-startdate``/``-enddate`` exist in every OpenSSL version while
``req -not_after`` is missing from OpenSSL 3.0): a prober that trusts the CA then sees
exactly one fault per certificate (expired, wrong name, or not issued by a trusted CA).

``_status_kib`` reads the memory figures the soak subprocess (``hostile_soak``) reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shutil
import struct
import subprocess
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import attrs

from sitemon_cli.targets import start_target_server
from tests.contract import targets

HUGE_BODY_BYTES = 200_000_000
BOMB_BYTES = 1 << 30  # 1 GiB of zeros once decompressed
HUGE_HEADER_BYTES = 100 * 1024
DRIP_INTERVAL_S = 1.0
_BLOCK = bytes(64 * 1024)
_MIB = bytes(1 << 20)


async def _stream(writer: asyncio.StreamWriter, head: bytes, body: bytes, repeat: int) -> None:
    """Write ``head`` then ``body`` ``repeat`` times, at the pace the client reads (drain);
    a client that hangs up ends the loop with a ConnectionError (``raw_server`` eats it)."""
    writer.write(head)
    for _ in range(repeat):
        if writer.is_closing():
            return
        await writer.drain()
        writer.write(body)
    await writer.drain()


async def huge_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A 200 MB body (declared in Content-Length), produced lazily 64 KiB at a time."""
    await targets._read_request_head(reader)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Length: %d\r\n\r\n" % HUGE_BODY_BYTES
    )
    await _stream(writer, head, _BLOCK, HUGE_BODY_BYTES // len(_BLOCK))


async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Headers at once, then a 1000-byte body one byte per second (a slowloris response)."""
    await targets._read_request_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        if writer.is_closing():
            return
        await writer.drain()
        writer.write(b"x")
        await asyncio.sleep(DRIP_INTERVAL_S)


@functools.cache
def gzip_bomb(size: int = BOMB_BYTES) -> bytes:
    """``size`` zero bytes (a multiple of 1 MiB) as one valid gzip member, built cheaply.

    A full flush byte-aligns the deflate stream and resets its dictionary, so every 1 MiB
    of zeros compresses to the same ~1 KB: compress one MiB, repeat the block, add the
    trailer (CRC-32 and length). ~0.3 s and ~1 MB for 1 GiB, where compressing 1 GiB for
    real takes seconds. ``zcat`` / ``zlib`` decode it back to exactly ``size`` zeros.
    """
    mib = len(_MIB)
    assert size % mib == 0
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate; we write the framing
    block = deflate.compress(_MIB) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush()
    crc = 0
    for _ in range(size // mib):
        crc = zlib.crc32(_MIB, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, max comp.
    return header + block * (size // mib) + end + struct.pack("<II", crc, size & 0xFFFFFFFF)


async def gzip_bomb_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """1 GiB of zeros, gzip-compressed (~1 MB on the wire), sent as Content-Encoding: gzip."""
    await targets._read_request_head(reader)
    payload = gzip_bomb()
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n" % len(payload)
    )
    view = memoryview(payload)
    writer.write(head)
    for start in range(0, len(payload), len(_BLOCK)):
        if writer.is_closing():
            return
        await writer.drain()
        writer.write(view[start : start + len(_BLOCK)])
    await writer.drain()


INVALID_UTF8_BODY = b"sitemon \xff\xfe ok \xc3\x28 and \xed\xa0\x80 done\n"


async def invalid_utf8(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A body that claims UTF-8 but holds invalid byte sequences."""
    await targets._read_request_head(reader)
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(INVALID_UTF8_BODY), INVALID_UTF8_BODY)
    )
    await writer.drain()


async def huge_header(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One 100 KiB response header (a giant cookie)."""
    await targets._read_request_head(reader)
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: c=%s\r\n\r\nok"
        % (b"a" * HUGE_HEADER_BYTES)
    )
    await writer.drain()
    await targets._wait_for_client_close(reader)


async def endless_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Header lines forever, each 30 KiB (just under the prober's 32 KiB line limit), never
    ending the head: the worst case of what a prober holds for one response head."""
    await targets._read_request_head(reader)
    line = b"X-Filler: %s\r\n" % (b"f" * (30 * 1024))
    await _stream(writer, b"HTTP/1.1 200 OK\r\n", line, 10**6)


# The raw behaviours of the hostile table, by name; TLS, DNS, refused and the redirect
# loop need no raw server (see test_hostile_sites.py).
RAW: dict[str, targets.Behaviour] = {
    "huge_body": huge_body,
    "drip": drip,
    "gzip_bomb": gzip_bomb_server,
    "invalid_utf8": invalid_utf8,
    "huge_header": huge_header,
    "endless_headers": endless_headers,
    "silent": targets.silent,
    "reset": targets.reset,
    "garbage": targets.garbage,
}


# --- certificates ------------------------------------------------------------------------

_OPENSSL_CONFIG = """\
[ req ]
distinguished_name = dn
[ dn ]
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ leaf_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost
[ ca ]
default_ca = test_ca
[ test_ca ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any_name
unique_subject = no
[ any_name ]
commonName = supplied
"""


@attrs.frozen
class TestCA:
    """A throwaway CA and leaf certificates for ``localhost`` it issued (paths to PEMs)."""

    ca_cert: Path
    valid: tuple[Path, Path]  # (cert, key): valid now, for DNS:localhost
    expired: tuple[Path, Path]  # same name, valid 2020-01-01..2020-01-02 only


def make_test_ca(directory: Path) -> TestCA | None:
    """Create the CA and its leaves in ``directory``; None when ``openssl`` is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    config = directory / "openssl.cnf"
    config.write_text(_OPENSSL_CONFIG)
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("01\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=directory)

    run("req", "-config", str(config), "-x509", *ec, "-days", "3", "-subj", "/CN=sitemon test CA",
        "-extensions", "ca_ext", "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip

    def leaf(name: str, *validity: str) -> tuple[Path, Path]:
        run("req", "-config", str(config), "-new", *ec, "-subj", "/CN=localhost",
            "-keyout", f"{name}.key", "-out", f"{name}.csr")  # fmt: skip
        run("ca", "-batch", "-config", str(config), "-cert", "ca.pem", "-keyfile", "ca.key",
            "-extensions", "leaf_ext", "-notext", *validity,
            "-in", f"{name}.csr", "-out", f"{name}.pem")  # fmt: skip
        return directory / f"{name}.pem", directory / f"{name}.key"

    return TestCA(
        ca_cert=directory / "ca.pem",
        valid=leaf("valid", "-days", "2"),
        expired=leaf("expired", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z"),
    )


@attrs.frozen
class Certs:
    """Everything the TLS rows need: the test CA (trust it) and a self-signed pair."""

    ca: TestCA
    self_signed: tuple[Path, Path]


def make_certs(directory: Path) -> Certs | None:
    """The test CA and a self-signed certificate; None when ``openssl`` is missing."""
    ca = make_test_ca(directory)
    self_signed = targets.make_self_signed_cert(directory)
    if ca is None or self_signed is None:
        return None
    return Certs(ca, self_signed)


# Every hostile behaviour, by name (the rows of test_hostile_sites.py).
NAMES = (
    "redirect_loop", "huge_body", "drip", "gzip_bomb", "invalid_utf8", "huge_header",
    "endless_headers", "silent", "reset", "garbage", "refused", "unresolvable",
    "tls_self_signed", "tls_expired", "tls_wrong_hostname",
)  # fmt: skip


@contextlib.asynccontextmanager
async def _https(cert: tuple[Path, Path], host: str) -> AsyncIterator[str]:
    runner, url = await start_target_server(ssl_context=targets.server_tls_context(*cert))
    try:
        yield f"https://{host}:{url.rsplit(':', 1)[1]}/ok"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def serve(name: str, certs: Certs) -> AsyncIterator[str]:
    """Serve the hostile behaviour ``name`` on loopback; yields the URL to check.

    TLS rows expect a prober that trusts ``certs.ca.ca_cert`` (and nothing else is
    needed): then the self-signed, expired and wrong-name certificates are each rejected
    for that one reason only.
    """
    if name in RAW:
        async with targets.raw_server(RAW[name]) as url:
            yield f"{url}/"
    elif name == "redirect_loop":
        runner, url = await start_target_server()
        try:
            yield f"{url}/loop"
        finally:
            await runner.cleanup()
    elif name == "refused":
        yield f"http://127.0.0.1:{targets.closed_port()}/"
    elif name == "unresolvable":
        yield "http://sitemon-hostile.invalid/"  # RFC 6761: never resolves
    elif name == "tls_self_signed":
        async with _https(certs.self_signed, "localhost") as url:
            yield url
    elif name == "tls_expired":
        async with _https(certs.ca.expired, "localhost") as url:
            yield url
    elif name == "tls_wrong_hostname":  # a valid certificate for localhost, asked as an IP
        async with _https(certs.ca.valid, "127.0.0.1") as url:
            yield url
    elif name == "tls_valid":  # the control: the CA setup itself works
        async with _https(certs.ca.valid, "localhost") as url:
            yield url
    else:
        raise ValueError(f"unknown hostile behaviour {name!r}")


# --- the soak: a real scanner over every hostile site, in a process of its own ----------


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` memory field (VmRSS, VmHWM) in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)
