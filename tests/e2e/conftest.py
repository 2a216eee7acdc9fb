"""Fixtures for end-to-end tests: local targets, unique topics and schemas, configs."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sitemon_cli.targets import start_target_server


@pytest.fixture
async def target_base() -> AsyncIterator[str]:
    """Base URL of a local target server (one route per behaviour)."""
    runner, base = await start_target_server()
    try:
        yield base
    finally:
        await runner.cleanup()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections for the whole test.

    The socket stays bound (never listening) until the test ends: a connection to it is
    refused, and no other process can take the port meanwhile (as it could if the port
    were merely found free and released, and the test then counted on it staying free).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture
def refused_url(closed_port: int) -> str:
    return f"http://127.0.0.1:{closed_port}/"


@pytest.fixture
def names() -> dict[str, str]:
    """Unique topic, group and schema names for one test."""
    suffix = uuid.uuid4().hex[:10]
    return {
        "topic": f"e2e-{suffix}",
        "dlq": f"e2e-{suffix}.dlq",
        "group": f"g-{suffix}",
        "schema": f"e2e_{suffix}",
    }


@pytest.fixture
async def pg(pg_dsn: str, names: dict[str, str]) -> AsyncIterator[asyncpg.Connection]:
    """A connection whose search_path is the test's own schema (dropped afterwards)."""
    conn = await asyncpg.connect(pg_dsn)
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{names["schema"]}"')
    await conn.execute(f'SET search_path TO "{names["schema"]}"')
    try:
        yield conn
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{names["schema"]}" CASCADE')
        await conn.close()


def kafka_section(bootstrap: str, names: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "bootstrap_servers": bootstrap,
        "topic": names["topic"],
        "dead_letter_topic": names["dlq"],
        "group_id": names["group"],
        "partitions": 3,
        **extra,
    }


def producer_config(
    tmp: Path, bootstrap: str, names: dict[str, str], sites: list[dict[str, Any]], **scanner: Any
) -> dict[str, Any]:
    return {
        "scanner": {"region": "e2e", "start_jitter": "200ms", "shutdown_grace": "3s", **scanner},
        "sites": sites,
        "bus": {"kind": "kafka", "kafka": kafka_section(bootstrap, names)},
    }


def consumer_config(
    pg_dsn: str, bootstrap: str, names: dict[str, str], **persister: Any
) -> dict[str, Any]:
    return {
        "bus": {"kind": "kafka", "kafka": kafka_section(bootstrap, names)},
        "repository": {"kind": "postgres", "postgres": {"dsn": pg_dsn, "schema": names["schema"]}},
        "persister": {"batch_size": 500, "poll_timeout": "200ms", **persister},
    }
