"""``sitemon-run demo``: every outcome on this machine, no internet needed.

Starts the local target server, monitors one site per behaviour (up, 404, 500, slow past
its timeout, regex hit and miss, redirect loop, refused) with the embedded monitor, and
prints the status table when it stops.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
from pathlib import Path
from typing import Any

from sitemon_cli.config import Config, ScannerSettings
from sitemon_cli.config.web import WebSettings
from sitemon_cli.container import RunOptions
from sitemon_cli.lifecycle import Shutdown, signal_handlers
from sitemon_cli.runners import print_status, run_shape
from sitemon_cli.targets import start_target_server
from sitemon_core.models import Site


def refused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_sites(base: str, refused: int) -> tuple[Site, ...]:
    """One site per behaviour of the local targets."""

    def site(site_id: str, path: str, **kw: Any) -> Site:
        return Site.http(id=site_id, url=f"{base}{path}", interval_s=3.0, timeout_s=1.0, **kw)

    return (
        site("up", "/ok"),
        site("regex-hit", "/ok", regex=r"target ok"),
        site("regex-miss", "/ok", regex=r"maintenance"),
        site("not-found", "/status/404"),
        site("server-error", "/status/500"),
        site("slow", "/slow/5"),
        site("redirect-loop", "/loop"),
        site("redirect-ok", "/redirect/3"),
        Site.http(id="refused", url=f"http://127.0.0.1:{refused}/", interval_s=3.0, timeout_s=1.0),
    )


async def run_demo(duration_s: float | None, db_path: Path | None) -> int:
    """Serve the targets and monitor them until Ctrl-C or ``duration_s``."""
    runner, base = await start_target_server()
    with tempfile.TemporaryDirectory(prefix="sitemon-demo-") as tmp:
        config = Config(
            source="(demo)",
            sites=demo_sites(base, refused_port()),
            scanner=ScannerSettings(region="demo", start_jitter_s=0.5, shutdown_grace_s=2.0),
            sqlite_path=str(db_path or Path(tmp) / "demo.db"),
            log_checks="all",  # a dozen sites: every check is worth seeing
            repository_configured=True,
            # The page on a free port (its URL is logged): 8080 may be taken on this host.
            web=WebSettings(listen=("127.0.0.1", 0)),
        )
        shutdown = Shutdown()
        if duration_s is not None:
            asyncio.get_running_loop().call_later(duration_s, shutdown.stop)
        try:
            await run_shape(config, "standalone", RunOptions(), shutdown)
        finally:
            await runner.cleanup()
        return await print_status(config)


async def serve_targets(host: str, port: int) -> int:
    """``targets``: serve the target behaviours until SIGTERM/SIGINT (compose uses it)."""
    runner, base = await start_target_server(host, port)
    stop = asyncio.Event()
    logging.getLogger("sitemon.process").info("targets serving", extra={"base_url": base})
    try:
        with signal_handlers(stop.set):
            await stop.wait()
    finally:
        await runner.cleanup()
    return 0
