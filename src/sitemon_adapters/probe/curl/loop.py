"""libcurl's multi interface driven by the asyncio loop.

One ``CurlMulti`` per prober: libcurl tells us which sockets to watch and when to wake it
(socket and timer callbacks); the loop's ``add_reader``/``add_writer`` and ``call_later``
hand those events back through ``socket_action``. Each transfer is a future that settles
with libcurl's result code and message, so a check is an ordinary coroutine.
"""

from __future__ import annotations

import asyncio

import pycurl

_MS = 1000.0
_READS = (pycurl.POLL_IN, pycurl.POLL_INOUT)
_WRITES = (pycurl.POLL_OUT, pycurl.POLL_INOUT)

# libcurl's result of one transfer: its CURLE code (0: done) and error message.
Outcome = tuple[int, str]


class CurlLoop:
    """Runs easy handles on one multi handle, woken by the running asyncio loop.

    Make it inside the running loop; ``close()`` aborts what is still running.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Create the multi handle and hook its callbacks to ``loop``."""
        self._loop = loop
        self._multi: pycurl.CurlMulti | None = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._timer: asyncio.Handle | None = None
        self._deadline = 0.0
        self._watched: dict[int, int] = {}
        self._running: dict[pycurl.Curl, asyncio.Future[Outcome]] = {}

    def start(self, easy: pycurl.Curl) -> asyncio.Future[Outcome]:
        """Start the transfer of ``easy``; the future settles with libcurl's outcome."""
        if self._multi is None:
            raise RuntimeError("CurlLoop is closed")
        future: asyncio.Future[Outcome] = self._loop.create_future()
        self._multi.add_handle(easy)
        self._running[easy] = future
        return future

    def discard(self, easy: pycurl.Curl) -> None:
        """Stop watching ``easy`` (aborting it if still running); the caller closes it."""
        future = self._running.pop(easy, None)
        if future is None:
            return
        if self._multi is not None:
            self._multi.remove_handle(easy)
        if not future.done():
            future.cancel()

    def close(self) -> None:
        """Abort every transfer, stop every watch and free the multi handle."""
        for easy in list(self._running):
            self.discard(easy)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for fd in list(self._watched):
            self._on_socket(pycurl.POLL_REMOVE, fd, None, None)
        if self._multi is not None:
            self._multi.close()
            self._multi = None

    def _on_socket(self, event: int, fd: int, _multi: object, _data: object) -> None:
        # Only what changed is (un)registered: each add/remove is an epoll_ctl system call.
        old = self._watched.pop(fd, None)
        if event == pycurl.POLL_REMOVE:
            event = 0
        was_in, was_out = old in _READS, old in _WRITES
        now_in, now_out = event in _READS, event in _WRITES
        if was_in and not now_in:
            self._loop.remove_reader(fd)
        if was_out and not now_out:
            self._loop.remove_writer(fd)
        if now_in and not was_in:
            self._loop.add_reader(fd, self._act, fd, pycurl.CSELECT_IN)
        if now_out and not was_out:
            self._loop.add_writer(fd, self._act, fd, pycurl.CSELECT_OUT)
        if event:
            self._watched[fd] = event

    def _on_timer(self, timeout_ms: int) -> None:
        # libcurl re-arms its timer on almost every action, mostly to the same deadline:
        # keep the scheduled call when it is already due within a millisecond of the new one.
        loop = self._loop
        if self._timer is not None:
            if timeout_ms >= 0 and abs(self._deadline - (loop.time() + timeout_ms / _MS)) < 1e-3:
                return
            self._timer.cancel()
            self._timer = None
        if timeout_ms >= 0:
            self._deadline = loop.time() + timeout_ms / _MS
            self._timer = loop.call_later(timeout_ms / _MS, self._on_deadline)

    def _on_deadline(self) -> None:
        self._timer = None
        self._act(pycurl.SOCKET_TIMEOUT, 0)

    def _act(self, fd: int, event: int) -> None:
        multi = self._multi
        if multi is None:
            return
        multi.socket_action(fd, event)
        while True:
            queued, done, failed = multi.info_read()
            for easy in done:
                self._settle(easy, 0, "")
            for easy, code, message in failed:
                self._settle(easy, code, message)
            if not queued:
                return

    def _settle(self, easy: pycurl.Curl, code: int, message: str) -> None:
        future = self._running.get(easy)
        if future is not None and not future.done():
            future.set_result((code, message))
