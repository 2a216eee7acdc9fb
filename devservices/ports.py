"""Free loopback port helpers.

The OS picks the port (bind to port 0), so parallel test runs on one machine
do not collide. There is an unavoidable window between releasing the probe
socket and the service binding the port; callers that start a server should
treat "address already in use" as retryable.
"""

from __future__ import annotations

import contextlib
import socket

LOOPBACK = "127.0.0.1"


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return `count` distinct TCP ports that are currently free on `host`.

    All probe sockets are held open until every port is chosen, so the OS
    cannot hand out the same port twice within one call.
    """
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports


def free_port(host: str = LOOPBACK) -> int:
    """Return one TCP port that is currently free on `host`."""
    return free_ports(1, host)[0]


def port_is_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Tell whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
