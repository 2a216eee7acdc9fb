"""Certificate warnings in the embedded monitor: a local HTTPS site behind a private CA whose
certificate expires in 3 days opens one ``certificate`` warning (webhook with the days left and
``not_after``) without any outage; a renewed certificate resolves it once (real process)."""

from __future__ import annotations

import json
import sqlite3
import ssl
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from tests.contract.notify_sink import RecordingSink, recording_sink
from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config
from tests.e2e.tls import CertificateAuthority, KeyPair


class HttpsTarget:
    """An HTTPS site whose server certificate the test replaces (renewal)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.url = ""

    def serve_certificate(self, pair: KeyPair) -> None:
        """New handshakes present ``pair`` (no resumption, no kept-alive connection: each
        check sees the certificate served at its time)."""
        self.context.load_cert_chain(pair.cert, pair.key)


def not_after(pair: KeyPair) -> datetime:
    """The certificate's notAfter, as ``openssl x509`` reads it."""
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-enddate", "-in", str(pair.cert)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return datetime.strptime(out.strip().removeprefix("notAfter="), "%b %d %H:%M:%S %Y %Z").replace(
        tzinfo=UTC
    )


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path / "pki")


@pytest.fixture
async def https_target(ca: CertificateAuthority) -> AsyncIterator[HttpsTarget]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.num_tickets = 0  # no session resumption: every handshake sends the certificate
    target = HttpsTarget(context)
    target.serve_certificate(ca.issue("soon", common_name="localhost", days=3))

    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="hello", headers={"Connection": "close"})

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    target.url = f"https://127.0.0.1:{runner.addresses[0][1]}/"
    try:
        yield target
    finally:
        await runner.cleanup()


@pytest.fixture
async def sink() -> AsyncIterator[RecordingSink]:
    async with recording_sink() as recording:
        yield recording


def bodies(sink: RecordingSink) -> list[dict[str, object]]:
    return [json.loads(r.body) for r in sink.requests]


async def test_a_certificate_expiring_in_3_days_warns_once_and_renewal_resolves_it(
    tmp_path: Path, ca: CertificateAuthority, https_target: HttpsTarget, sink: RecordingSink
) -> None:
    db = tmp_path / "alerts.db"
    expiring = KeyPair(ca.directory / "soon.crt", ca.directory / "soon.key")
    site = {
        "id": "cert",
        "url": https_target.url,
        "interval": "300ms",
        "timeout": "300ms",
        "tls": {"ca_file": str(ca.cert)},
    }
    config = write_config(
        tmp_path / "alerts.yaml",
        {
            "scanner": {"start_jitter": "100ms", "region": "eu"},
            "defaults": {"tls_expiry_warning": "14d"},
            "sites": [site],
            "repository": {"kind": "sqlite", "sqlite": {"path": str(db)}},
            "alerts": {
                "defaults": {"failure_threshold": 2, "success_threshold": 2},
                "notifiers": {
                    "hook": {"kind": "webhook", "url": f"{sink.url}/hook", "secret": "s3cret"}
                },
            },
        },
    )
    proc = await SitemonProcess("standalone", config, "--quiet").start()
    try:
        await proc.wait_for(message_is("alerter started"), timeout=60)

        async def count(n: int) -> bool:
            return len(sink.requests) >= n

        await wait_until(lambda: count(1), 30, "the certificate warning")
        https_target.serve_certificate(ca.issue("renewed", common_name="localhost", days=90))
        await wait_until(lambda: count(2), 30, "the renewal")
        assert await proc.stop() == 0, proc.tail()
    finally:
        await proc.kill()
    firing, resolved = bodies(sink)
    assert (firing["event"], resolved["event"]) == ("firing", "resolved"), bodies(sink)
    warning = firing["incident"]
    assert isinstance(warning, dict) and warning["kind"] == "certificate"
    expected = not_after(expiring).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert warning["certificate"]["not_after"] == expected
    assert warning["certificate"]["days_left"] == 2  # 3 days less the seconds since issuing
    assert "2 days left" in str(firing["summary"]) and "cert" in str(firing["summary"])
    assert resolved["incident"]["id"] == warning["id"]  # type: ignore[index]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT kind, resolved_at IS NOT NULL FROM incidents").fetchall()
    assert rows == [("certificate", 1)]  # and no outage
    stopped = proc.find(message_is("alerter stopped"))
    assert stopped is not None, proc.tail()
    assert (stopped["certificate_warnings_opened"], stopped["incidents_opened"]) == (1, 0)
