"""Session fixtures for tests that need a real Kafka, PostgreSQL or Alertmanager.

Each fixture uses an external service when its environment variable is set
(e.g. docker compose or ``python -m devservices up``):

    SITEMON_KAFKA_BOOTSTRAP=127.0.0.1:9092
    SITEMON_PG_DSN=postgresql://sitemon@127.0.0.1:5432/sitemon
    SITEMON_ALERTMANAGER_URL=http://127.0.0.1:9093  (its webhook receiver must post to
        http://$SITEMON_ALERTMANAGER_SINK/, the address the test sink then listens on)

Otherwise it starts a local one from devservices, once per test session and
only if some test asks for it, and stops it when the session ends. A service
that cannot be started fails the requesting tests with the reason; it never
skips them, so a broken environment cannot pass as green.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from devservices import KafkaService, PostgresService
    from devservices.alertmanager import AlertmanagerRig, AlertmanagerService

# Test-only durability trade-off: these make PostgreSQL several times faster
# for many small transactions, and a test cluster is thrown away anyway.
FAST_PG_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _start(service: KafkaService | PostgresService | AlertmanagerService) -> str | None:
    """Start a service; on failure clean it up and return why, else None.

    pytest.fail is called by the fixture outside any except block, so the
    report shows the reason once instead of a chained traceback.
    """
    try:
        service.start()
    except Exception as exc:
        with contextlib.suppress(Exception):
            service.cleanup()
        return str(exc) or repr(exc)
    return None


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """``host:port`` of a Kafka broker (PLAINTEXT)."""
    external = os.environ.get("SITEMON_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    from devservices import KafkaService

    service = KafkaService()
    error = _start(service)
    if error:
        pytest.fail(f"could not start local Kafka: {error}", pytrace=False)
    try:
        yield service.bootstrap
    finally:
        service.cleanup()


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """``postgresql://`` DSN of a database the tests may use freely."""
    external = os.environ.get("SITEMON_PG_DSN")
    if external:
        yield external
        return
    from devservices import PostgresService

    try:
        service = PostgresService(settings=FAST_PG_SETTINGS)
    except Exception as exc:  # e.g. no PostgreSQL binaries
        error = str(exc)
    else:
        error = _start(service)
    if error:
        pytest.fail(f"could not start local PostgreSQL: {error}", pytrace=False)
    try:
        yield service.dsn
    finally:
        service.cleanup()


@pytest.fixture(scope="session")
def pgbouncer_dsn(pg_dsn: str) -> Iterator[str]:
    """DSN of a real PgBouncer in transaction mode in front of ``pg_dsn``'s server (started
    here, on a free loopback port; a few server connections shared by every client)."""
    from devservices.pgbouncer import PgBouncerService

    try:
        service = PgBouncerService(pg_dsn)
    except Exception as exc:  # e.g. no pgbouncer binary
        error: str | None = str(exc)
    else:
        error = _start(service)  # type: ignore[arg-type]
    if error:
        pytest.fail(f"could not start local PgBouncer: {error}", pytrace=False)
    try:
        yield service.dsn
    finally:
        service.cleanup()


@pytest.fixture(scope="session")
def alertmanager() -> Iterator[AlertmanagerRig]:
    """An Alertmanager (``.url``, API v2) whose webhook receiver posts every notification,
    grouped by alertname, to ``.sink`` (a recording server)."""
    from devservices.alertmanager import AlertmanagerRig, AlertmanagerService
    from devservices.webhook_sink import WebhookSink

    with WebhookSink(os.environ.get("SITEMON_ALERTMANAGER_SINK", "127.0.0.1:0")) as sink:
        external = os.environ.get("SITEMON_ALERTMANAGER_URL")
        if external:
            yield AlertmanagerRig(external, sink)
            return
        try:
            service = AlertmanagerService(receiver_url=f"{sink.url}/alerts")
        except Exception as exc:  # e.g. no Alertmanager binary
            error = str(exc)
        else:
            error = _start(service)
        if error:
            pytest.fail(f"could not start local Alertmanager: {error}", pytrace=False)
        try:
            yield AlertmanagerRig(service.url, sink)
        finally:
            service.cleanup()
