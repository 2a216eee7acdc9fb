"""WebServer as a Service: serves until asked to stop, counts requests and errors."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest

from sitemon_adapters.store.memory_queries import InMemoryStatusQueries
from sitemon_adapters.web import WebServer
from sitemon_core.errors import ConfigError, RepositoryError
from sitemon_core.service import Service


class UnreachableQueries(InMemoryStatusQueries):
    """A store that cannot be reached."""

    async def ping(self) -> None:
        raise RepositoryError(
            "cannot reach postgresql://sitemon:pw-123@db:5432/sitemon: refused", retriable=True
        )


async def test_serves_until_request_stop_and_counts() -> None:
    server = WebServer(InMemoryStatusQueries(), port=0)
    assert isinstance(server, Service)
    task = asyncio.create_task(server.run())
    await asyncio.wait_for(server.wait_listening(), 10)
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url + "healthz") as response:
            assert response.status == 200
        async with session.get(server.url + "api/v1/sites/nope") as response:
            assert response.status == 404
    server.request_stop()
    stats = await asyncio.wait_for(task, 10)
    assert (stats.requests, stats.client_errors, stats.errors) == (2, 1, 0)


async def test_readyz_is_503_when_the_store_is_unreachable() -> None:
    server = WebServer(UnreachableQueries(), port=0)
    task = asyncio.create_task(server.run())
    await asyncio.wait_for(server.wait_listening(), 10)
    async with aiohttp.ClientSession() as session, session.get(server.url + "readyz") as response:
        assert response.status == 503
        reason = (await response.json())["reason"]
        assert reason == "cannot reach postgresql://db:5432/sitemon: refused"
    server.request_stop()
    assert (await task).errors == 1


async def test_a_port_in_use_is_a_config_error_naming_the_key() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = WebServer(InMemoryStatusQueries(), port=port, source="web.yaml")
        with pytest.raises(
            ConfigError, match=rf"^web.yaml: web.listen: cannot listen on 127.0.0.1:{port}"
        ):
            await server.run()
