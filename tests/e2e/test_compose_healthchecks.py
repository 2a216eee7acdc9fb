"""The healthchecks of compose/docker-compose.yml, run as written (but for the port) against
real sitemon processes: no Docker engine here, so the command runs on this host."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.conftest import kafka_section
from tests.e2e.procs import SitemonProcess, message_is, write_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose" / "docker-compose.yml"


def service(name: str) -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    return dict(services[name])


async def run_healthcheck(name: str, compose_port: int, port: int) -> int:
    """Run ``name``'s healthcheck (``CMD python -c …``) with ``compose_port`` moved to
    ``port``; its exit code."""
    cmd, python, flag, code = service(name)["healthcheck"]["test"]
    assert (cmd, python, flag) == ("CMD", "python", "-c")
    assert f"127.0.0.1:{compose_port}/" in code
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        flag,
        code.replace(f"127.0.0.1:{compose_port}/", f"127.0.0.1:{port}/"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(proc.wait(), 30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_producer_healthcheck_follows_its_metrics_endpoint(
    tmp_path: Path, kafka_bootstrap: str, names: dict[str, str]
) -> None:
    """Unhealthy before the producer listens, healthy while it runs (the compose producer
    config, moved to this test's topic and a free metrics port)."""
    config = yaml.safe_load((ROOT / "compose" / "producer.yaml").read_text(encoding="utf-8"))
    compose_port = int(config["metrics"]["listen"].rpartition(":")[2])
    port = free_port()
    config["metrics"]["listen"] = f"127.0.0.1:{port}"
    config["bus"]["kafka"] = kafka_section(kafka_bootstrap, names)
    assert await run_healthcheck("producer", compose_port, port) != 0
    producer = SitemonProcess("producer", write_config(tmp_path / "producer.yaml", config))
    await producer.start()
    try:
        await producer.wait_for(message_is("metrics listening"), timeout=60)
        assert await run_healthcheck("producer", compose_port, port) == 0
        assert await producer.stop() == 0
    finally:
        await producer.kill()


async def test_targets_healthcheck_passes_against_the_targets(target_base: str) -> None:
    command = service("targets")["command"]
    compose_port = int(command[command.index("--port") + 1])
    assert await run_healthcheck("targets", compose_port, int(target_base.rpartition(":")[2])) == 0
