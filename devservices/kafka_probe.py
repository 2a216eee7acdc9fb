"""Readiness probes for the Kafka broker.

A raw ApiVersions request needs only the stdlib; when aiokafka is installed
a real admin client also creates a topic, proving the controller works.
"""

from __future__ import annotations

import socket
import struct

from devservices.ports import LOOPBACK
from devservices.process import run_coroutine

READINESS_TOPIC = "_sitemon_readiness"


def api_versions_ok(port: int, host: str = LOOPBACK, timeout: float = 2.0) -> bool:
    """Send a raw ApiVersions v0 request; True if the broker answers without error.

    Stdlib only, so readiness can be checked without any Kafka client. Kafka
    4.x only enables request processing once the broker is unfenced.
    """
    client_id = b"sitemon-devservices"
    body = struct.pack(">hhih", 18, 0, 7, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exact(sock, 10)
    except OSError:
        return False
    _size, correlation_id, error_code = struct.unpack(">iih", header)
    return correlation_id == 7 and error_code == 0


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    """Read exactly n bytes or raise ConnectionError."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


async def _create_probe_topic(bootstrap: str) -> bool:
    """Create (or find) the readiness topic through aiokafka's admin client.

    Creating a topic proves the controller is active and the broker is
    unfenced, which is what producers and consumers need.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # lazy: optional dependency

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        resp = await admin.create_topics([NewTopic(READINESS_TOPIC, 1, 1)])
        # 0 = created, 36 = TOPIC_ALREADY_EXISTS (e.g. after a restart).
        return all(err[1] in (0, 36) for err in resp.topic_errors)
    except Exception:  # any failure just means "not ready yet"
        return False
    finally:
        await admin.close()


def client_probe(bootstrap: str) -> bool:
    """Readiness via a real client when aiokafka is installed, else True."""
    try:
        import aiokafka  # noqa: F401 - only checking availability
    except ImportError:
        return True
    return run_coroutine(lambda: _create_probe_topic(bootstrap))
