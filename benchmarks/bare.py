"""Reference loops without sitemon: what the HTTP libraries cost on their own, in this run.

``curl``: one ``CurlMulti`` driven by ``select`` (``perform``), a fresh connection per
request (FRESH_CONNECT + FORBID_REUSE), the body read and searched for the marker.
``aiohttp``: a ``force_close`` session on uvloop, ``c`` requests in flight, body + regex.
Both as in MEASUREMENTS.md; the scanner's figures are compared with these, same farm, same
minute, so the ratio says what sitemon's scheduling, tracing and result-building cost.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from typing import Any

from benchmarks import procs
from benchmarks.farm import FARM_MARKER
from benchmarks.system import self_cpu_s

MODULE = "benchmarks.bare"


def _curl_loop(urls: list[str], concurrency: int, cafile: str) -> tuple[int, float, float]:
    import pycurl

    pattern = re.compile(FARM_MARKER.encode())
    multi = pycurl.CurlMulti()
    free: list[Any] = []
    for _ in range(concurrency):
        easy = pycurl.Curl()
        free.append(easy)
    counter = {"i": 0, "done": 0, "counted": 0}
    bodies: dict[Any, list[bytes]] = {}

    def start(easy: Any) -> None:
        i = counter["i"] = counter["i"] + 1
        chunks: list[bytes] = []
        bodies[easy] = chunks
        easy.setopt(pycurl.URL, urls[i % len(urls)])
        easy.setopt(pycurl.FRESH_CONNECT, 1)
        easy.setopt(pycurl.FORBID_REUSE, 1)
        easy.setopt(pycurl.NOSIGNAL, 1)
        easy.setopt(pycurl.CAINFO, cafile)
        easy.setopt(pycurl.SSL_SESSIONID_CACHE, 0)
        easy.setopt(pycurl.WRITEFUNCTION, chunks.append)
        multi.add_handle(easy)

    for easy in free:
        start(easy)
    print("READY", flush=True)
    window = json.loads(sys.stdin.readline())
    counting = False
    cpu0 = 0.0
    while True:
        now = time.time()
        if not counting and now >= window[0]:
            counting, counter["counted"], cpu0 = True, 0, self_cpu_s()
        if now >= window[1]:
            return counter["counted"], self_cpu_s() - cpu0, window[1] - window[0]
        multi.select(0.05)
        while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        _, ok, failed = multi.info_read()
        for easy in ok + [f[0] for f in failed]:
            multi.remove_handle(easy)
            pattern.search(b"".join(bodies.pop(easy)))
            counter["counted"] += 1
            start(easy)


async def _aiohttp_loop(urls: list[str], concurrency: int, cafile: str) -> tuple[int, float, float]:
    import ssl

    import aiohttp

    pattern = re.compile(FARM_MARKER)
    context = ssl.create_default_context(cafile=cafile)
    counted = {"n": 0, "i": 0}
    stop = False

    async def one(session: aiohttp.ClientSession) -> None:
        while not stop:
            counted["i"] += 1
            async with session.get(urls[counted["i"] % len(urls)]) as response:
                pattern.search(await response.text())
            counted["n"] += 1

    connector = aiohttp.TCPConnector(force_close=True, limit=0, ssl=context)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.create_task(one(session)) for _ in range(concurrency)]
        window = await procs.ready_for_window()
        await asyncio.sleep(max(0.0, window[0] - time.time()))
        start, cpu0 = counted["n"], self_cpu_s()
        await asyncio.sleep(max(0.0, window[1] - time.time()))
        stop = True
        result = counted["n"] - start, self_cpu_s() - cpu0, window[1] - window[0]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return result


async def worker(params: dict[str, Any]) -> dict[str, Any]:
    """Run one bare loop over the window the parent sends; checks and CPU inside it."""
    if params["library"] == "curl":
        checks, cpu, wall = _curl_loop(params["urls"], params["concurrency"], params["cafile"])
    else:
        checks, cpu, wall = await _aiohttp_loop(
            params["urls"], params["concurrency"], params["cafile"]
        )
    return {"checks": checks, "wall_s": wall, "cpu_s": cpu}


if __name__ == "__main__":
    procs.child_main(worker)
