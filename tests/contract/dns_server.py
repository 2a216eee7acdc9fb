"""A real DNS server for the DNS prober's tests: Debian's ``dnsmasq`` on a loopback port,
with its own records (no system files, no upstream but the ones below).

Zones served:

- ``sitemon.test``: authoritative local data (``www`` A and AAAA, ``alias`` CNAME, MX,
  TXT, ``many`` with ``MANY`` TXT records); any other name in it is NXDOMAIN.
- ``bogus.test``: forwarded to a second dnsmasq (``upstream``) that serves it unsigned,
  while the front server holds a DNSSEC trust anchor for it: validation fails and the
  front server answers SERVFAIL, as a resolver does for a broken signed zone.

Starting fails with ``DnsServerError`` (a test error, never a skip) when dnsmasq is missing
or does not answer (``apt-get install dnsmasq-base``).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query

WWW_V4, WWW_V6 = "192.0.2.10", "2001:db8::10"
MANY = 40  # TXT records of many.sitemon.test: more than a result carries
# The DS record of the real root KSK: dnsmasq refuses DNSSEC without a root anchor. It is
# never used (nothing here is under the root's chain); bogus.test gets the same digest,
# which no DNSKEY of the upstream matches.
_DS = "20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"

_COMMON = """port={port}
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
pid-file=
log-facility=-
"""
_FRONT = """local=/sitemon.test/
host-record=www.sitemon.test,{v4},{v6}
cname=alias.sitemon.test,www.sitemon.test
mx-host=sitemon.test,mail.sitemon.test,10
txt-record=sitemon.test,"v=spf1 -all"
dnssec
trust-anchor=.,{ds}
trust-anchor=bogus.test,{ds}
server=/bogus.test/127.0.0.1#{upstream}
{many}
"""
_UPSTREAM = """local=/bogus.test/
host-record=www.bogus.test,192.0.2.20
"""


class DnsServerError(RuntimeError):
    """dnsmasq is missing or did not start answering."""


@dataclass(frozen=True)
class DnsServer:
    """A running dnsmasq: where it listens (UDP and TCP)."""

    host: str
    port: int

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"


def _free_port() -> int:
    # A port free for both TCP and UDP at the moment (dnsmasq binds both).
    while True:
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(port)


@contextlib.contextmanager
def _dnsmasq(directory: Path, name: str, config: str) -> Iterator[DnsServer]:
    exe = shutil.which("dnsmasq") or (
        "/usr/sbin/dnsmasq" if Path("/usr/sbin/dnsmasq").exists() else None
    )
    if exe is None:
        raise DnsServerError("dnsmasq is missing: apt-get install -y dnsmasq-base")
    port = _free_port()
    conf = directory / f"{name}.conf"
    conf.write_text(_COMMON.format(port=port) + config)
    log = directory / f"{name}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [exe, "--keep-in-foreground", f"--conf-file={conf}", "--user=root"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        server = DnsServer("127.0.0.1", port)
        _wait_until_answering(server, process, log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_answering(server: DnsServer, process: subprocess.Popen[bytes], log: Path) -> None:
    query = dns.message.make_query("ready.check.", "A")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DnsServerError(f"dnsmasq exited {process.returncode}: {log.read_text()}")
        with contextlib.suppress(Exception):
            dns.query.udp(query, server.host, port=server.port, timeout=0.2)
            return
        time.sleep(0.05)
    raise DnsServerError(f"dnsmasq did not answer within 10 s: {log.read_text()}")


@contextlib.contextmanager
def dns_servers(directory: Path) -> Iterator[DnsServer]:
    """The front dnsmasq (with its upstream for ``bogus.test``), until the block ends."""
    with _dnsmasq(directory, "upstream", _UPSTREAM) as upstream:
        many = "\n".join(f"txt-record=many.sitemon.test,r{i:02d}" for i in range(MANY))
        front = _FRONT.format(v4=WWW_V4, v6=WWW_V6, ds=_DS, upstream=upstream.port, many=many)
        with _dnsmasq(directory, "front", front) as server:
            yield server


@contextlib.asynccontextmanager
async def silent_udp() -> AsyncIterator[DnsServer]:
    """A UDP socket on a loopback port that reads queries and never answers."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    try:
        yield DnsServer("127.0.0.1", transport.get_extra_info("sockname")[1])
    finally:
        transport.close()
