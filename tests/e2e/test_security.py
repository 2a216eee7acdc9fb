"""Security: Kafka over mutual TLS and SASL_SSL/SCRAM, PostgreSQL over ``verify-full`` TLS,
and secrets that never reach a log line, an error message or ``check-config``.

A PRIVATE broker (module fixture; the shared session broker stays PLAINTEXT) has two extra
listeners, both with a broker certificate from a test CA (PEM keystore, SANs localhost and
127.0.0.1):

- ``SSL``: mutual TLS, ``ssl.client.auth=required``, trusts the test CA;
- ``SASL_SSL``: TLS + SCRAM-SHA-512 for user ``sitemon`` (added at format time, KRaft).

A PRIVATE PostgreSQL has ``ssl=on`` with a certificate from the same CA and a pg_hba.conf
that allows TCP only as ``hostssl`` with ``scram-sha-256`` passwords (plus devservices'
``local all all trust`` for its own setup over the Unix socket).

The secrets are distinctive (``S3cr3t-...-<random>``) so that a grep over every output
line of every process, on success and on the error paths, is a real test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from sitemon_adapters.bus.kafka import KafkaConnection
from sitemon_adapters.bus.kafka.connection import KafkaTlsConfigError
from sitemon_adapters.store.postgres import PostgresStatusRepository
from sitemon_cli import logs
from sitemon_cli.config import load_config, parse_config
from sitemon_core.errors import ConfigError, RepositoryError
from sitemon_core.models import CheckResult
from tests.e2e.conftest import consumer_config, producer_config
from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config
from tests.e2e.tls import (
    CertificateAuthority,
    KeyPair,
    encrypted_key,
    encrypted_pem_keystore,
)

if TYPE_CHECKING:
    from devservices import KafkaService, PostgresService

pytestmark = pytest.mark.timeout(300)

RUN = uuid.uuid4().hex[:12]
KAFKA_USER = "sitemon"
KAFKA_PASSWORD = f"S3cr3t-kafka-{RUN}"
PG_PASSWORD = f"S3cr3t-pg-{RUN}"
CLIENT_KEY_PASSWORD = f"S3cr3t-key-{RUN}"
WRONG_KAFKA_PASSWORD = f"S3cr3t-wrong-kafka-{RUN}"
WRONG_PG_PASSWORD = f"S3cr3t-wrong-pg-{RUN}"
SECRETS = (
    KAFKA_PASSWORD,
    PG_PASSWORD,
    CLIENT_KEY_PASSWORD,
    WRONG_KAFKA_PASSWORD,
    WRONG_PG_PASSWORD,
)
PASSWORD_ENV = "SITEMON_TEST_KAFKA_PASSWORD"
PG_PASSWORD_ENV = "SITEMON_TEST_PG_PASSWORD"

# Generous: two shared cores, JVM and several Python processes. Bounds, not speed claims.
EXIT_TIMEOUT_S = 120.0
FLOW_TIMEOUT_S = 120.0


# -- certificates -------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: CertificateAuthority
    broker: KeyPair
    postgres: KeyPair
    client: KeyPair
    client_encrypted_key: Path  # client.key encrypted with CLIENT_KEY_PASSWORD
    rogue_ca: CertificateAuthority  # trusted by nobody
    rogue_client: KeyPair  # a client certificate the broker must reject


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    try:
        ca = CertificateAuthority.create(root / "ca", "sitemon-test-ca")
        rogue = CertificateAuthority.create(root / "rogue", "rogue-ca")
        client = ca.issue("client", common_name="sitemon", client=True)
        return Pki(
            ca=ca,
            broker=ca.issue("broker", common_name="localhost"),
            postgres=ca.issue("postgres", common_name="localhost"),
            client=client,
            client_encrypted_key=encrypted_key(
                client, root / "ca" / "client.enc.key", CLIENT_KEY_PASSWORD
            ),
            rogue_ca=rogue,
            rogue_client=rogue.issue("rogue-client", common_name="sitemon", client=True),
        )
    except Exception as exc:  # e.g. no openssl: a failure, never a skip
        pytest.fail(f"cannot create test certificates: {exc}", pytrace=False)


# -- private services -----------------------------------------------------------------------


def _start(service: KafkaService | PostgresService, what: str) -> None:
    """Start ``service`` or fail the test (never skip) with the reason."""
    try:
        service.start()
    except Exception as exc:
        with contextlib.suppress(Exception):
            service.cleanup()
        error = str(exc) or repr(exc)
    else:
        return
    pytest.fail(f"could not start the private {what}: {error}", pytrace=False)


@pytest.fixture(scope="module")
def secure_kafka(pki: Pki) -> Iterator[KafkaService]:
    """A broker with PLAINTEXT (devservices' readiness probe), SSL (mTLS) and SASL_SSL."""
    from devservices import KafkaService

    keystore_password = uuid.uuid4().hex
    keystore = encrypted_pem_keystore(
        pki.broker, pki.ca.directory / "broker-keystore.pem", keystore_password
    )
    jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    service = KafkaService(
        extra_listeners={"SSL": "SSL", "SASL_SSL": "SASL_SSL"},
        extra_properties={
            # Both TLS listeners present the broker certificate and trust the test CA.
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(keystore),
            "ssl.key.password": keystore_password,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(pki.ca.cert),
            # SSL: a client certificate is mandatory (mutual TLS).
            "listener.name.ssl.ssl.client.auth": "required",
            # SASL_SSL: SCRAM-SHA-512 only.
            "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas,
        },
        # KRaft: SCRAM credentials must be in the metadata from the start.
        format_args=["--add-scram", f"SCRAM-SHA-512=[name={KAFKA_USER},password={KAFKA_PASSWORD}]"],
    )
    _start(service, "Kafka broker with SSL and SASL_SSL listeners")
    try:
        yield service
    finally:
        service.cleanup()


@dataclass
class SecurePostgres:
    service: PostgresService
    ca: Path

    @property
    def port(self) -> int:
        assert self.service.port is not None
        return self.service.port

    def dsn(
        self,
        *,
        password: str = f"${{{PG_PASSWORD_ENV}}}",
        host: str = "localhost",
        ca: Path | None = None,
        sslmode: str = "verify-full",
        port: int | None = None,
    ) -> str:
        """The TCP DSN (by default with the password as an ``${ENV}`` reference)."""
        return (
            f"postgresql://sitemon:{password}@{host}:{port or self.port}/sitemon"
            f"?sslmode={sslmode}&sslrootcert={ca or self.ca}"
        )

    async def local(self) -> asyncpg.Connection:
        """A superuser connection over the Unix socket (trust): for the test's own checks."""
        return await asyncpg.connect(
            host=str(self.service.socket_dir),
            port=self.port,
            user=self.service.user,
            database=self.service.database,
        )


@pytest.fixture(scope="module")
def secure_pg(pki: Pki) -> Iterator[SecurePostgres]:
    """PostgreSQL accepting TCP only over TLS with a password (scram-sha-256)."""
    from devservices import PostgresService

    hba = (
        "local all all trust\n"
        "hostssl all all 127.0.0.1/32 scram-sha-256\n"
        "hostssl all all ::1/128 scram-sha-256\n"
    )  # no plain `host` line: TLS or nothing
    try:
        service = PostgresService(
            settings={
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "ssl": "on",
                "ssl_cert_file": "server.crt",
                "ssl_key_file": "server.key",
                "password_encryption": "scram-sha-256",
            },
            files={
                "server.crt": pki.postgres.read_cert(),
                "server.key": pki.postgres.read_key(),
                "pg_hba.conf": hba,
            },
        )
    except Exception as exc:  # e.g. no PostgreSQL binaries
        pytest.fail(f"could not configure the private PostgreSQL: {exc}", pytrace=False)
    _start(service, "PostgreSQL with TLS")
    secure = SecurePostgres(service, pki.ca.cert)

    async def set_password() -> None:
        conn = await secure.local()
        try:
            await conn.execute(f"ALTER ROLE \"{service.user}\" PASSWORD '{PG_PASSWORD}'")
        finally:
            await conn.close()

    try:
        asyncio.run(set_password())
        yield secure
    finally:
        service.cleanup()


# -- helpers ------------------------------------------------------------------------------------


def sitemon(
    command: str,
    config: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    log_format: str = "json",
) -> SitemonProcess:
    proc = SitemonProcess(command, config, *extra, env=env)
    proc.args[proc.args.index("--log-format") + 1] = log_format
    return proc


async def run_to_exit(proc: SitemonProcess, timeout: float = EXIT_TIMEOUT_S) -> int:
    """Start ``proc`` and wait for it to exit by itself; a hang fails the test."""
    await proc.start()
    assert proc.proc is not None
    try:
        await asyncio.wait_for(proc.proc.wait(), timeout)
    except TimeoutError:
        await proc.kill()
        raise AssertionError(
            f"{' '.join(proc.args[3:])} still running after {timeout:g}s "
            f"(a hang, not a clear failure):\n{proc.tail()}"
        ) from None
    return await proc.stop()


async def wait_raw(proc: SitemonProcess, text: str, timeout: float = 60.0) -> None:
    """Wait for an output line containing ``text`` (works for the human format too)."""

    async def seen() -> bool:
        assert proc.proc is not None
        if proc.proc.returncode is not None and not any(text in line for line in proc.raw):
            raise AssertionError(f"exited {proc.proc.returncode} before {text!r}:\n" + proc.tail())
        return any(text in line for line in proc.raw)

    await wait_until(seen, timeout, repr(text), interval=0.1)


def check_config(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sitemon_cli.main", "check-config", "-c", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret leaked into {where}:\n{text}"
        # Part of a secret is a leak as well (a driver quoting a mis-split URL, say).
        assert secret[:16] not in text, f"part of a secret leaked into {where}:\n{text}"


def sites(base: str) -> list[dict[str, Any]]:
    common = {"interval": "1s", "timeout": "700ms"}
    return [
        {"id": "ok", "url": f"{base}/ok", **common},
        {"id": "missing", "url": f"{base}/status/404", **common},
    ]


def mtls(pki: Pki, **override: Any) -> dict[str, Any]:
    return {
        "security_protocol": "SSL",
        "ssl_cafile": str(pki.ca.cert),
        "ssl_certfile": str(pki.client.cert),
        "ssl_keyfile": str(pki.client.key),
        **override,
    }


def scram(pki: Pki, **override: Any) -> dict[str, Any]:
    return {
        "security_protocol": "SASL_SSL",
        "ssl_cafile": str(pki.ca.cert),
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": KAFKA_USER,
        "sasl_password": f"${{{PASSWORD_ENV}}}",
        **override,
    }


def with_kafka(doc: dict[str, Any], bootstrap: str, security: dict[str, Any]) -> dict[str, Any]:
    doc["bus"]["kafka"].update(bootstrap_servers=bootstrap, **security)
    return doc


def secret_file(path: Path, content: str) -> Path:
    """A file only its owner may read (0600), created so from the start."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(content + "\n")
    return path


async def history_count(conn: asyncpg.Connection, schema: str | None = None) -> int:
    table = f'"{schema}".check_history' if schema else "check_history"
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0


async def run_pipeline(
    producer: SitemonProcess, consumer: SitemonProcess, count: Any, at_least: int
) -> None:
    """Run both until ``count()`` reaches ``at_least`` stored checks, then stop both (exit 0)."""
    await consumer.start()
    await producer.start()
    try:

        async def stored() -> bool:
            return await count() >= at_least

        await wait_until(stored, FLOW_TIMEOUT_S, f"{at_least} stored checks")
        assert await producer.stop() == 0, producer.tail()
        assert await consumer.stop() == 0, consumer.tail()
    finally:
        await producer.kill()
        await consumer.kill()


def errors_of(proc: SitemonProcess) -> str:
    return "\n".join(line for line in proc.raw if line.startswith("error:"))


# -- Kafka: mutual TLS and SASL_SSL/SCRAM ------------------------------------------------------


async def test_mutual_tls_carries_results_to_postgres(
    tmp_path: Path,
    pki: Pki,
    secure_kafka: KafkaService,
    pg_dsn: str,
    target_base: str,
    names: dict[str, str],
    pg: asyncpg.Connection,
) -> None:
    bootstrap = secure_kafka.bootstrap_for("SSL")
    producer = sitemon(
        "producer",
        write_config(
            tmp_path / "producer.yaml",
            with_kafka(
                producer_config(tmp_path, bootstrap, names, sites(target_base)),
                bootstrap,
                mtls(pki),
            ),
        ),
    )
    # The consumer's key is encrypted; its passphrase comes from a 0600 file.
    key_password = secret_file(tmp_path / "key-password", CLIENT_KEY_PASSWORD)
    consumer = sitemon(
        "consumer",
        write_config(
            tmp_path / "consumer.yaml",
            with_kafka(
                consumer_config(pg_dsn, bootstrap, names),
                bootstrap,
                mtls(
                    pki,
                    ssl_keyfile=str(pki.client_encrypted_key),
                    ssl_password_file=str(key_password),
                ),
            ),
        ),
    )

    await run_pipeline(producer, consumer, lambda: history_count(pg), at_least=4)

    rows = await pg.fetch("SELECT site_id, status_code FROM site_status ORDER BY site_id")
    assert [(r["site_id"], r["status_code"]) for r in rows] == [("missing", 404), ("ok", 200)]
    for proc in (producer, consumer):
        assert_no_secret("\n".join(proc.raw), f"{proc.args[5]} output")


async def test_sasl_scram_carries_results_to_postgres(
    tmp_path: Path,
    pki: Pki,
    secure_kafka: KafkaService,
    pg_dsn: str,
    target_base: str,
    names: dict[str, str],
    pg: asyncpg.Connection,
) -> None:
    bootstrap = secure_kafka.bootstrap_for("SASL_SSL")
    # The producer's password comes from the environment, the consumer's from a 0600 file.
    producer = sitemon(
        "producer",
        write_config(
            tmp_path / "producer.yaml",
            with_kafka(
                producer_config(tmp_path, bootstrap, names, sites(target_base)),
                bootstrap,
                scram(pki),
            ),
        ),
        env={PASSWORD_ENV: KAFKA_PASSWORD},
    )
    password_file = secret_file(tmp_path / "kafka-password", KAFKA_PASSWORD)
    consumer = sitemon(
        "consumer",
        write_config(
            tmp_path / "consumer.yaml",
            with_kafka(
                consumer_config(pg_dsn, bootstrap, names),
                bootstrap,
                scram(pki, sasl_password=None, sasl_password_file=str(password_file)),
            ),
        ),
    )

    await run_pipeline(producer, consumer, lambda: history_count(pg), at_least=4)

    rows = await pg.fetch("SELECT site_id, ok FROM site_status ORDER BY site_id")
    assert [(r["site_id"], r["ok"]) for r in rows] == [("missing", False), ("ok", True)]
    for proc in (producer, consumer):
        assert_no_secret("\n".join(proc.raw), f"{proc.args[5]} output")


REFUSED = {  # case -> (listener, command, security settings, expected words in the error)
    "wrong-scram-password": (
        "SASL_SSL",
        "producer",
        lambda pki: scram(pki, sasl_password=WRONG_KAFKA_PASSWORD),
        "SASL authentication failed",
    ),
    "wrong-scram-password-consumer": (
        "SASL_SSL",
        "consumer",
        lambda pki: scram(pki, sasl_password=WRONG_KAFKA_PASSWORD),
        "SASL authentication failed",
    ),
    "unknown-scram-mechanism": (
        "SASL_SSL",
        "producer",
        lambda pki: scram(pki, sasl_mechanism="SCRAM-SHA-256"),
        "does not accept SASL mechanism SCRAM-SHA-256",
    ),
    "no-client-certificate": (
        "SSL",
        "producer",
        lambda pki: mtls(pki, ssl_certfile=None, ssl_keyfile=None),
        "requires a client certificate",
    ),
    "untrusted-client-certificate": (
        "SSL",
        "producer",
        lambda pki: mtls(
            pki, ssl_certfile=str(pki.rogue_client.cert), ssl_keyfile=str(pki.rogue_client.key)
        ),
        "rejected the client certificate",
    ),
    "untrusted-broker-certificate": (
        "SSL",
        "producer",
        lambda pki: mtls(pki, ssl_cafile=str(pki.rogue_ca.cert)),
        "certificate is not trusted",
    ),
    "plaintext-client-on-tls-listener": (
        "SSL",
        "producer",
        lambda pki: {"security_protocol": "PLAINTEXT"},
        "does this listener expect TLS",
    ),
    "encrypted-key-without-password": (
        "SSL",
        "producer",
        lambda pki: mtls(pki, ssl_keyfile=str(pki.client_encrypted_key)),
        "is encrypted: set ssl_password",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_a_refused_kafka_client_exits_non_zero_with_a_clear_error(
    case: str,
    tmp_path: Path,
    pki: Pki,
    secure_kafka: KafkaService,
    pg_dsn: str,
    target_base: str,
    names: dict[str, str],
    pg: asyncpg.Connection,
) -> None:
    listener, command, security, expected = REFUSED[case]
    bootstrap = secure_kafka.bootstrap_for(listener)
    doc = (
        producer_config(tmp_path, bootstrap, names, sites(target_base))
        if command == "producer"
        else consumer_config(pg_dsn, bootstrap, names)
    )
    # A None setting is written as YAML null, which the config reads as "not set".
    proc = sitemon(
        command,
        write_config(tmp_path / "config.yaml", with_kafka(doc, bootstrap, security(pki))),
        env={PASSWORD_ENV: KAFKA_PASSWORD},
    )

    assert await run_to_exit(proc) == 1, proc.tail()

    error = errors_of(proc)
    assert expected in error, proc.tail()
    assert error.startswith(f"error: cannot use Kafka at {bootstrap}") or "ssl_" in error, error
    assert "Traceback" not in "\n".join(proc.raw), proc.tail()
    assert_no_secret("\n".join(proc.raw), f"{case} output")


# -- PostgreSQL over TLS (verify-full) ----------------------------------------------------------


def result(site_id: str) -> CheckResult:
    from datetime import UTC, datetime

    return CheckResult(
        check_id=uuid.uuid4().hex,
        site_id=site_id,
        url="https://x.test/",
        region="tls",
        started_at=datetime.now(UTC),
        ok=True,
        total_ms=1.5,
        status_code=200,
    )


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_postgres_verify_full_through_the_repository(
    secure_pg: SecurePostgres,
    host: str,
) -> None:
    schema = f"tls_{uuid.uuid4().hex[:8]}"
    saved = result("tls-site")
    async with PostgresStatusRepository(
        secure_pg.dsn(password=PG_PASSWORD, host=host),
        schema=schema,
        application_name=f"sitemon-{schema}",
    ) as repository:
        await repository.migrate()
        await repository.save([saved])
        latest = await repository.latest()
        local = await secure_pg.local()
        try:
            tls = await local.fetch(
                "SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)"
                " WHERE a.application_name = $1",
                f"sitemon-{schema}",
            )
            await local.execute(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            await local.close()
    assert [s.latest for s in latest] == [saved]
    assert tls and all(row["ssl"] for row in tls), tls  # every pooled connection is TLS
    assert all(row["version"] in ("TLSv1.2", "TLSv1.3") for row in tls), tls


POSTGRES_REFUSED = {  # case -> (DSN arguments, expected words in the RepositoryError)
    "wrong-ca": ({"password": PG_PASSWORD, "ca": "rogue"}, "certificate verify failed"),
    "no-tls": ({"password": PG_PASSWORD, "sslmode": "disable"}, "no encryption"),
    "wrong-password": ({"password": WRONG_PG_PASSWORD}, "password authentication failed"),
}


@pytest.mark.parametrize("case", list(POSTGRES_REFUSED))
async def test_postgres_tls_or_auth_failure_is_a_clear_repository_error(
    case: str,
    pki: Pki,
    secure_pg: SecurePostgres,
) -> None:
    arguments, expected = POSTGRES_REFUSED[case]
    arguments = dict(arguments)
    if arguments.get("ca") == "rogue":
        arguments["ca"] = pki.rogue_ca.cert
    repository = PostgresStatusRepository(secure_pg.dsn(**arguments), connect_timeout_s=30)
    began = time.monotonic()
    with pytest.raises(RepositoryError) as caught:
        async with repository:
            pass
    assert time.monotonic() - began < 60  # bounded, not a hang
    message = str(caught.value)
    assert message.startswith("PostgreSQL connect failed:") and expected in message, message
    texts = [message, repr(caught.value), repr(repository)]
    chained: BaseException | None = caught.value
    while chained is not None:
        texts += [str(chained), repr(chained.args)]
        chained = chained.__cause__ or chained.__context__
    assert_no_secret("\n".join(texts), f"the {case} error")


# -- secrets never printed ------------------------------------------------------------------------


@dataclass
class SecretsRig:
    """Configs for the secrets tests: Kafka over SASL_SSL with the password from the env,
    PostgreSQL over TLS with the password in the DSN (an ``${ENV}`` reference or a file)."""

    tmp: Path
    pki: Pki
    bootstrap: str
    pg: SecurePostgres
    names: dict[str, str]
    target_base: str
    env: dict[str, str]

    def consumer(
        self, dsn: str | None = None, dsn_file: Path | None = None, **security: Any
    ) -> dict[str, Any]:
        doc = with_kafka(
            consumer_config(dsn or self.pg.dsn(), self.bootstrap, self.names),
            self.bootstrap,
            scram(self.pki, **security),
        )
        if dsn_file is not None:
            doc["repository"]["postgres"] = {
                "dsn_file": str(dsn_file),
                "schema": self.names["schema"],
            }
        return doc

    def producer(self, **security: Any) -> dict[str, Any]:
        return with_kafka(
            producer_config(self.tmp, self.bootstrap, self.names, sites(self.target_base)),
            self.bootstrap,
            scram(self.pki, **security),
        )

    def process(
        self, command: str, name: str, doc: dict[str, Any], log_format: str = "json"
    ) -> SitemonProcess:
        return sitemon(
            command, write_config(self.tmp / name, doc), env=self.env, log_format=log_format
        )


@pytest.fixture
def rig(
    tmp_path: Path,
    pki: Pki,
    secure_kafka: KafkaService,
    secure_pg: SecurePostgres,
    names: dict[str, str],
    target_base: str,
) -> SecretsRig:
    return SecretsRig(
        tmp_path,
        pki,
        secure_kafka.bootstrap_for("SASL_SSL"),
        secure_pg,
        names,
        target_base,
        {PASSWORD_ENV: KAFKA_PASSWORD, PG_PASSWORD_ENV: PG_PASSWORD},
    )


async def test_secrets_stay_out_of_logs_and_check_config_through_a_database_outage(
    rig: SecretsRig,
) -> None:
    """Producer (human logs) and consumer (JSON logs, DSN from a 0600 ``dsn_file``) run
    while the database goes down and comes back; ``check-config`` runs on every config."""
    schema = rig.names["schema"]
    outputs: dict[str, str] = {}
    producer_yaml = write_config(rig.tmp / "producer.yaml", rig.producer())
    consumer_yaml = write_config(rig.tmp / "consumer.yaml", rig.consumer())
    dsn_file = secret_file(rig.tmp / "pg-dsn", rig.pg.dsn(password=PG_PASSWORD))
    consumer_file_yaml = write_config(
        rig.tmp / "consumer-file.yaml", rig.consumer(dsn_file=dsn_file)
    )
    for config in (producer_yaml, consumer_yaml, consumer_file_yaml):
        done = check_config(config, rig.env)
        assert done.returncode == 0, done.stderr
        outputs[f"check-config {config.name}"] = done.stdout + done.stderr

    producer = sitemon("producer", producer_yaml, env=rig.env, log_format="human")
    consumer = sitemon("consumer", consumer_file_yaml, env=rig.env)
    local = await rig.pg.local()

    def stored(n: int) -> Any:
        return lambda: _at_least(local, schema, n)  # `local` as it is at each call

    try:
        await consumer.start()
        await producer.start()
        await wait_until(stored(2), FLOW_TIMEOUT_S, "first rows")
        await local.close()
        await asyncio.to_thread(rig.pg.service.stop)
        try:
            await consumer.wait_for(message_is("save failed, retrying"), timeout=FLOW_TIMEOUT_S)
        finally:
            await asyncio.to_thread(rig.pg.service.start)
        local = await rig.pg.local()
        await wait_until(
            stored(await history_count(local, schema) + 2), FLOW_TIMEOUT_S, "rows after the outage"
        )
        assert await producer.stop() == 0, producer.tail()
        assert await consumer.stop() == 0, consumer.tail()
    finally:
        await producer.kill()
        await consumer.kill()
        with contextlib.suppress(Exception):
            await local.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        with contextlib.suppress(Exception):
            await local.close()

    assert any("sitemon.check" in line for line in producer.raw)  # real log lines were read
    failed = [e for e in consumer.logs if e.get("msg") == "save failed, retrying"]
    assert failed and all(e["error"].startswith("PostgreSQL save failed") for e in failed)
    outputs["producer (human logs)"] = "\n".join(producer.raw)
    outputs["consumer (json logs)"] = "\n".join(consumer.raw)
    for where, text in outputs.items():
        assert_no_secret(text, where)


async def test_secrets_stay_out_of_every_error_path(rig: SecretsRig, closed_port: int) -> None:
    """Wrong passwords, unreachable hosts, a DSN that does not parse: each process ends by
    itself (or, for a database retried at start, is stopped) with a clear message and
    without any secret in its output."""
    closed = closed_port  # held bound for the whole test: nobody else can listen on it
    failing = {  # name -> (process, exit code, words in the output)
        "wrong PostgreSQL password": (
            rig.process(
                "consumer",
                "bad-pg-password.yaml",
                rig.consumer(rig.pg.dsn(password=WRONG_PG_PASSWORD)),
            ),
            1,
            "password authentication failed",
        ),
        "wrong Kafka password (human logs)": (
            rig.process(
                "producer",
                "bad-kafka-password.yaml",
                rig.producer(sasl_password=WRONG_KAFKA_PASSWORD),
                log_format="human",
            ),
            1,
            "SASL authentication failed",
        ),
        "wrong Kafka host": (
            rig.process(
                "producer",
                "bad-kafka-host.yaml",
                with_kafka(rig.producer(), f"127.0.0.1:{closed}", {}),
            ),
            1,
            "connection refused",
        ),
        # An unencoded '#' used to split the URL inside the password: the driver then
        # reported the password's first part as the port, in its error message.
        "password that breaks the DSN": (
            rig.process(
                "consumer", "bad-dsn.yaml", rig.consumer(rig.pg.dsn(password=PG_PASSWORD + "#x"))
            ),
            2,
            "cannot tell the password from the host",
        ),
    }
    codes = await asyncio.gather(*(run_to_exit(proc) for proc, _code, _text in failing.values()))
    outputs: dict[str, str] = {}
    for (name, (proc, code, text)), got in zip(failing.items(), codes, strict=True):
        assert got == code, f"{name}: exit {got}\n{proc.tail()}"
        assert text in "\n".join(proc.raw), f"{name}:\n{proc.tail()}"
        outputs[name] = "\n".join(proc.raw)

    # A database that cannot be reached is retried at start: end it after the first retry
    # (SIGKILL: whether a SIGTERM during start-up ends it at once is not this test's topic).
    unreachable = rig.process(
        "consumer",
        "bad-pg-host.yaml",
        rig.consumer(rig.pg.dsn(password=PG_PASSWORD, port=closed)),
        log_format="human",
    )
    await unreachable.start()
    try:
        await wait_raw(unreachable, "repository unavailable at start, retrying")
    finally:
        await unreachable.kill()
    outputs["unreachable PostgreSQL (human logs)"] = "\n".join(unreachable.raw)
    bad = check_config(rig.tmp / "bad-dsn.yaml", rig.env)
    assert bad.returncode == 2, bad.stderr
    outputs["check-config bad-dsn.yaml"] = bad.stdout + bad.stderr

    for where, text in outputs.items():
        assert_no_secret(text, where)


async def _at_least(conn: asyncpg.Connection, schema: str, n: int) -> bool:
    return await history_count(conn, schema) >= n


# -- config files with secrets ----------------------------------------------------------------


def test_a_0600_config_with_0600_secret_files_loads(tmp_path: Path) -> None:
    """Secrets may live in files only their owner can read: nothing wants them world-readable."""
    kafka_password = secret_file(tmp_path / "kafka-password", KAFKA_PASSWORD)
    key_password = secret_file(tmp_path / "key-password", CLIENT_KEY_PASSWORD)
    dsn = secret_file(
        tmp_path / "dsn",
        f"postgresql://sitemon:{PG_PASSWORD}@db.internal:5432/sitemon?sslmode=verify-full",
    )
    config_path = secret_file(
        tmp_path / "sitemon.yaml",
        json.dumps(
            {
                "sites": [{"url": "https://example.com/"}],
                "bus": {
                    "kind": "kafka",
                    "kafka": {
                        "bootstrap_servers": "kafka:9093",
                        "security_protocol": "SASL_SSL",
                        "sasl_mechanism": "SCRAM-SHA-512",
                        "sasl_username": "sitemon",
                        "sasl_password_file": str(kafka_password),
                        "ssl_certfile": "/etc/c.crt",
                        "ssl_keyfile": "/etc/c.key",
                        "ssl_password_file": str(key_password),
                    },
                },
                "repository": {"kind": "postgres", "postgres": {"dsn_file": str(dsn)}},
            }
        ),
    )  # JSON is YAML
    for path in (kafka_password, key_password, dsn, config_path):
        assert path.stat().st_mode & 0o777 == 0o600

    config = load_config(config_path)

    assert config.kafka.connection.sasl_password == KAFKA_PASSWORD
    assert config.kafka.connection.ssl_password == CLIENT_KEY_PASSWORD
    assert PG_PASSWORD in config.postgres.dsn
    assert_no_secret(repr(config), "repr(config)")
    done = check_config(config_path, {})
    assert done.returncode == 0, done.stderr
    assert_no_secret(done.stdout + done.stderr, "check-config output")


@pytest.mark.parametrize(
    "password", [f"{PG_PASSWORD}#x", f"{PG_PASSWORD}/x", f"{PG_PASSWORD}?x", f"{PG_PASSWORD}@x"]
)
def test_a_dsn_whose_password_breaks_the_url_is_refused_without_quoting_it(
    password: str,
) -> None:
    dsn = f"postgresql://sitemon:{password}@localhost:5432/sitemon?sslmode=verify-full"
    with pytest.raises(ConfigError) as caught:
        parse_config("inline", {"repository": {"kind": "postgres", "postgres": {"dsn": dsn}}})
    assert caught.value.key_path == "repository.postgres.dsn"
    assert "percent-encode" in caught.value.problem
    assert_no_secret(str(caught.value), "the config error")


def test_a_percent_encoded_password_is_fine() -> None:
    encoded = f"{PG_PASSWORD}%23x%2F%3F%40"
    config = parse_config(
        "inline",
        {
            "repository": {
                "kind": "postgres",
                "postgres": {"dsn": f"postgresql://sitemon:{encoded}@localhost:5432/sitemon"},
            }
        },
    )
    assert encoded in config.postgres.dsn


# -- the last line of defence: log redaction ----------------------------------------------------


class _LeakyError(Exception):
    pass


def _record(secret: str) -> logging.LogRecord:
    try:
        raise _LeakyError(f"driver says: postgresql://u:{secret}@db/x")
    except _LeakyError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "sitemon.test",
        logging.ERROR,
        __file__,
        1,
        "connect failed: %s",
        (f"password={secret}",),
        exc_info,
    )
    record.error = f"dsn=postgresql://u:{secret}@db/x"
    record.nested = {"attempts": [1, f"{secret}!"], "ok": True}
    record.obj = _LeakyError(secret)
    return record


@pytest.mark.parametrize(
    "formatter", [logs.JsonFormatter(), logs.HumanFormatter()], ids=["json", "human"]
)
def test_log_formats_mask_the_secrets_of_a_loaded_config(formatter: logging.Formatter) -> None:
    secret = f"S3cr3t-redact-{uuid.uuid4().hex}"
    parse_config(
        "inline",
        {
            "bus": {
                "kind": "kafka",
                "kafka": {
                    "security_protocol": "SASL_SSL",
                    "sasl_mechanism": "PLAIN",
                    "sasl_username": "u",
                    "sasl_password": secret,
                },
            }
        },
    )  # loading a config registers its secrets

    line = formatter.format(_record(secret))

    assert secret not in line and logs.MASK in line
    assert "sitemon.test" in line and "driver says" in line  # the rest is intact
    if isinstance(formatter, logs.JsonFormatter):
        doc = json.loads(line)
        assert doc["nested"] == {"attempts": [1, "***!"], "ok": True}


def test_uncaught_tracebacks_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    secret = f"S3cr3t-hook-{uuid.uuid4().hex}"
    logs.register_secret(secret)
    root, ours = logging.getLogger(), logging.getLogger("sitemon")
    hook, handlers, levels = sys.excepthook, root.handlers[:], (root.level, ours.level)
    try:
        logs.setup_logging("json")
        try:
            raise _LeakyError(f"postgresql://u:{secret}@db/x")
        except _LeakyError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
    finally:
        sys.excepthook = hook
        root.handlers[:] = handlers
        root.setLevel(levels[0])
        ours.setLevel(levels[1])
    err = capsys.readouterr().err
    assert "_LeakyError: postgresql://u:***@db/x" in err and secret not in err


# -- TLS settings errors, before any connection --------------------------------------------------


def test_unusable_tls_files_are_named_in_the_error(pki: Pki, tmp_path: Path) -> None:
    cases = {
        "cannot load ssl_cafile": KafkaConnection(
            bootstrap_servers="x:1",
            security_protocol="SSL",
            ssl_cafile=str(tmp_path / "missing-ca.pem"),
        ),
        "is encrypted: set ssl_password": KafkaConnection(
            bootstrap_servers="x:1",
            security_protocol="SSL",
            ssl_certfile=str(pki.client.cert),
            ssl_keyfile=str(pki.client_encrypted_key),
        ),
        "wrong ssl_password": KafkaConnection(
            bootstrap_servers="x:1",
            security_protocol="SSL",
            ssl_certfile=str(pki.client.cert),
            ssl_keyfile=str(pki.client_encrypted_key),
            ssl_password=WRONG_KAFKA_PASSWORD,
        ),
    }
    for expected, connection in cases.items():
        with pytest.raises(KafkaTlsConfigError, match=expected) as caught:
            connection.client_kwargs()
        assert_no_secret(str(caught.value), expected)
    good = KafkaConnection(
        bootstrap_servers="x:1",
        security_protocol="SSL",
        ssl_certfile=str(pki.client.cert),
        ssl_keyfile=str(pki.client_encrypted_key),
        ssl_password=CLIENT_KEY_PASSWORD,
    )
    assert good.client_kwargs()["ssl_context"].verify_mode.name == "CERT_REQUIRED"
    assert CLIENT_KEY_PASSWORD not in repr(good)
