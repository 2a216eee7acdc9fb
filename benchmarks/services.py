"""Kafka and PostgreSQL helpers for the scenarios that use the real bus and database."""

from __future__ import annotations

from typing import Any

from benchmarks.procs import run_async


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    """Create topic ``name`` (replication 1: the devservices broker is a single node)."""
    from sitemon_adapters.bus.kafka import KafkaConnection, ensure_topics

    run_async(
        ensure_topics(
            KafkaConnection(bootstrap_servers=bootstrap),
            [name],
            partitions=partitions,
            replication_factor=1,
        ),
        uvloop=False,
    )


async def pg_settings(dsn: str, names: list[str]) -> dict[str, Any]:
    """The server's values of some settings (recorded next to the figures)."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(dsn)
    try:
        return {n: await conn.fetchval(f"SHOW {n}") for n in names}
    finally:
        await conn.close()
