"""The target farm: many "sites" (paths) on a few loopback ports, plain HTTP and HTTPS.

nginx from Debian when installed (``worker_processes 1``, ``access_log off``, a generated
ECDSA P-256 certificate signed by a generated CA, so checks verify TLS as in production);
otherwise a raw asyncio server in a child process. Every site answers 200 with the same
~1 kB page, which contains ``FARM_MARKER`` for the regex check.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devservices.ports import LOOPBACK, free_ports, port_is_open

from benchmarks.system import children_of, tree_cpu_s

FARM_MARKER = "sitemon benchmark farm"
# ~986 bytes like the reference measurements (MEASUREMENTS.md).
BODY = (
    "<!doctype html><html><head><title>"
    + FARM_MARKER
    + "</title></head><body><p>"
    + ("lorem ipsum dolor sit amet " * 34)
    + "</p></body></html>\n"
).encode()
PORTS_PER_SCHEME = 4


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key): an ECDSA P-256 CA and a server certificate for
    ``127.0.0.1`` and ``localhost`` signed by it, made with the openssl CLI."""
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
    ecparam = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    commands = [
        [
            "openssl",
            "req",
            "-x509",
            *ecparam,
            "-keyout",
            ca_key,
            "-out",
            ca,
            "-days",
            "2",
            "-subj",
            "/CN=sitemon bench CA",
        ],
        ["openssl", "req", "-new", *ecparam, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "2",
            "-extfile",
            ext,
        ],
    ]
    for command in commands:
        subprocess.run([str(c) for c in command], check=True, capture_output=True)
    return ca, cert, key


NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 16384; multi_accept on; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    default_type text/html;
    keepalive_requests 100000;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:bench:10m;
    server {{
{listens}
        location / {{ alias {dir}/www/; try_files /index.html =404; }}
    }}
}}
"""


class Farm:
    """Start with ``start()``; ``url(i, scheme)`` names site ``i``; ``stop()`` ends it."""

    def __init__(self, *, prefer_nginx: bool = True) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="sitemon-farm-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self.kind = "nginx" if prefer_nginx and shutil.which("nginx") else "asyncio"
        ports = free_ports(2 * PORTS_PER_SCHEME)
        self.http_ports = ports[:PORTS_PER_SCHEME]
        self.https_ports = ports[PORTS_PER_SCHEME:]
        self.ca, self.cert, self.key = make_certificates(self._dir)

    def url(self, index: int, scheme: str = "http") -> str:
        """The URL of site ``index`` (sites spread over the farm's ports)."""
        ports = self.http_ports if scheme == "http" else self.https_ports
        return f"{scheme}://{LOOPBACK}:{ports[index % len(ports)]}/site/{index}"

    def start(self) -> Farm:
        """Start the server and wait until every port accepts connections."""
        if self.kind == "nginx":
            self._start_nginx()
        else:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.farm",
                    str(self.cert),
                    str(self.key),
                    ",".join(map(str, self.http_ports)),
                    ",".join(map(str, self.https_ports)),
                ],
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 15
        while not all(port_is_open(p) for p in self.http_ports + self.https_ports):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                log = self._dir / "error.log"
                detail = log.read_text() if log.exists() else ""
                raise RuntimeError(f"the {self.kind} farm did not start: {detail}")
            time.sleep(0.05)
        return self

    def _start_nginx(self) -> None:
        (self._dir / "www").mkdir()
        (self._dir / "www" / "index.html").write_bytes(BODY)
        listens = [f"        listen {LOOPBACK}:{p} backlog=4096;" for p in self.http_ports]
        listens += [f"        listen {LOOPBACK}:{p} ssl backlog=4096;" for p in self.https_ports]
        conf = self._dir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                dir=self._dir, cert=self.cert, key=self.key, listens="\n".join(listens)
            )
        )
        self._proc = subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", str(self._dir), "-g", "user root;"],
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def server_pids(self) -> list[int]:
        """Processes that serve requests (nginx: master + worker)."""
        if self._proc is None:
            return []
        return [self._proc.pid, *children_of(self._proc.pid)]

    def cpu_s(self) -> float:
        """CPU seconds the farm has used so far."""
        return tree_cpu_s(self.server_pids())

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM if self.kind == "asyncio" else signal.SIGQUIT)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Farm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the fallback server (used when nginx is not installed) ---------------------------------

_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\nConnection: close\r\n\r\n"
    + BODY
)


class _Site(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if b"\r\n\r\n" in self._buffer:
            self._transport.write(_RESPONSE)  # type: ignore[attr-defined]
            self._transport.close()


async def _serve(cert: str, key: str, http_ports: list[int], https_ports: list[int]) -> None:
    loop = asyncio.get_running_loop()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    servers = [await loop.create_server(_Site, LOOPBACK, p, backlog=4096) for p in http_ports]
    servers += [
        await loop.create_server(_Site, LOOPBACK, p, ssl=context, backlog=4096) for p in https_ports
    ]
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def main() -> None:
    """``python -m benchmarks.farm CERT KEY HTTP_PORTS HTTPS_PORTS`` (comma-separated)."""
    cert, key, http, https = sys.argv[1:5]
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(
        _serve(cert, key, [int(p) for p in http.split(",")], [int(p) for p in https.split(",")])
    )


if __name__ == "__main__":
    main()
