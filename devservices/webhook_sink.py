"""A recording HTTP sink: where a test Alertmanager's webhook receiver posts.

A stdlib ``ThreadingHTTPServer`` in a daemon thread, so it lives as long as a session-scoped
fixture and is independent of any test's event loop. Every request is kept (method, path,
headers, body) and answered ``200 OK``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devservices.ports import LOOPBACK

MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """One request the sink received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES)
        body = self.rfile.read(length)
        self.server.record(
            RecordedRequest(self.command, self.path, dict(self.headers.items()), body)
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the recorded requests are the log


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.lock = threading.Lock()
        self.requests: list[RecordedRequest] = []

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)


class WebhookSink:
    """Records every POST on ``http://<address>/…``; thread-safe."""

    def __init__(self, address: str = f"{LOOPBACK}:0") -> None:
        """``address``: ``host:port`` to listen on (port 0: a free one)."""
        host, _, port = address.rpartition(":")
        self._address = (host or LOOPBACK, int(port))
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebhookSink:
        """Listen and serve in a daemon thread; return self."""
        self._server = _Server(self._address)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-sink", daemon=True
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self._server is None:
            raise RuntimeError("WebhookSink not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def requests(self) -> list[RecordedRequest]:
        """A snapshot of everything received so far, oldest first."""
        if self._server is None:
            return []
        with self._server.lock:
            return list(self._server.requests)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
