"""sitemon's adapters: the implementations of ``sitemon_core``'s ports, by role then technology.

The public adapters are importable from here (``from sitemon_adapters import
AiohttpSiteProber``), each loaded on first use: importing this package loads no driver
(aiohttp, aiokafka, asyncpg, pycurl), so a tool that needs only the SQLite store never
pays for, or needs installed, the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sitemon_adapters.bus.kafka import (
        KafkaConnection,
        KafkaStatusPublisher,
        KafkaStatusSubscriber,
    )
    from sitemon_adapters.bus.memory import InMemoryStatusBus
    from sitemon_adapters.clock import SystemClock
    from sitemon_adapters.codec.avro import AvroCheckResultCodec
    from sitemon_adapters.probe.aiohttp.prober import AiohttpSiteProber
    from sitemon_adapters.probe.curl.prober import CurlSiteProber
    from sitemon_adapters.store.memory import InMemoryStatusRepository
    from sitemon_adapters.store.postgres.repository import PostgresStatusRepository
    from sitemon_adapters.store.sqlite.repository import SqliteStatusRepository

# Public name -> the module defining it (imported by __getattr__ on first access).
_MODULES = {
    "AiohttpSiteProber": "sitemon_adapters.probe.aiohttp.prober",
    "AvroCheckResultCodec": "sitemon_adapters.codec.avro",
    "CurlSiteProber": "sitemon_adapters.probe.curl.prober",
    "InMemoryStatusBus": "sitemon_adapters.bus.memory",
    "InMemoryStatusRepository": "sitemon_adapters.store.memory",
    "KafkaConnection": "sitemon_adapters.bus.kafka",
    "KafkaStatusPublisher": "sitemon_adapters.bus.kafka",
    "KafkaStatusSubscriber": "sitemon_adapters.bus.kafka",
    "PostgresStatusRepository": "sitemon_adapters.store.postgres.repository",
    "SqliteStatusRepository": "sitemon_adapters.store.sqlite.repository",
    "SystemClock": "sitemon_adapters.clock",
}

__all__ = [
    "AiohttpSiteProber",
    "AvroCheckResultCodec",
    "CurlSiteProber",
    "InMemoryStatusBus",
    "InMemoryStatusRepository",
    "KafkaConnection",
    "KafkaStatusPublisher",
    "KafkaStatusSubscriber",
    "PostgresStatusRepository",
    "SqliteStatusRepository",
    "SystemClock",
]


def __getattr__(name: str) -> Any:
    """Import a public adapter's module on first access (PEP 562)."""
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    """The public adapters along with the module's own names."""
    return sorted({*globals(), *__all__})
