"""A real single-node Apache Kafka (KRaft, broker+controller) for tests.

The broker jars come from Maven Central (see kafka-pom.xml) and are cached
under ``$SITEMON_CACHE_DIR`` (default ``~/.cache/sitemon``). The broker runs
as a plain ``java`` child process on free loopback ports in a temp directory.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from devservices.ports import LOOPBACK, free_ports
from devservices.process import (
    ServiceError,
    kill_now,
    poll_until,
    run_coroutine,
    terminate,
    with_log,
)

# Newest 4.x served by Maven Central that aiokafka 0.14 was verified against
# (produce, idempotent producer, group consume, commit). Override per
# environment with SITEMON_KAFKA_VERSION, e.g. to match a docker image.
KAFKA_VERSION = os.environ.get("SITEMON_KAFKA_VERSION", "4.4.0")
POM = Path(__file__).with_name("kafka-pom.xml")
COMPLETE_MARKER = ".complete"
READINESS_TOPIC = "_sitemon_readiness"


def cache_root() -> Path:
    """Directory for downloaded artifacts: $SITEMON_CACHE_DIR or ~/.cache/sitemon."""
    env = os.environ.get("SITEMON_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "sitemon"


def kafka_lib_dir(version: str = KAFKA_VERSION) -> Path:
    """Where the jars of one Kafka version live (complete once the marker exists)."""
    return cache_root() / f"kafka-{version}" / "lib"


def fetch_kafka(version: str = KAFKA_VERSION) -> Path:
    """Download kafka_2.13 and its runtime dependencies; return the lib dir.

    Does nothing when the cache is already complete. Jars are copied into a
    staging dir that is renamed into place only after Maven succeeded, so an
    interrupted fetch never leaves a half-filled lib dir behind.
    """
    lib = kafka_lib_dir(version)
    if (lib / COMPLETE_MARKER).is_file():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError("cannot fetch Kafka: 'mvn' not on PATH (apt-get install maven)")
    lib.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="lib.partial.", dir=lib.parent))
    try:
        _copy_dependencies(mvn, version, staging)
        (staging / COMPLETE_MARKER).write_text(version + "\n")
        _publish(staging, lib)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return lib


def _copy_dependencies(mvn: str, version: str, dest: Path) -> None:
    """Run Maven's dependency:copy-dependencies for the throw-away pom."""
    cmd = [
        mvn, "-q", "-B", "-f", str(POM),
        f"-Dkafka.version={version}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={dest}",
        "-DincludeScope=runtime",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        output = "\n".join((res.stdout + res.stderr).splitlines()[-40:])
        raise ServiceError(f"Maven could not fetch Kafka {version} (exit {res.returncode}):\n{output}")


def _publish(staging: Path, lib: Path) -> None:
    """Move a finished staging dir to `lib`; a concurrent fetch may have won."""
    try:
        staging.rename(lib)
    except OSError:
        if not (lib / COMPLETE_MARKER).is_file():
            # A stale, incomplete lib dir from an older layout: replace it.
            shutil.rmtree(lib, ignore_errors=True)
            staging.rename(lib)


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding.

    Kafka's own Uuid.randomUuid() rejects ids starting with '-' (they look
    like command-line flags), so we do the same.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def find_java() -> str:
    """Path of the java binary: $JAVA_HOME/bin/java, else java on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise ServiceError("no 'java' on PATH and no JAVA_HOME (apt-get install openjdk-17-jre-headless)")
    return java


def api_versions_ok(port: int, host: str = LOOPBACK, timeout: float = 2.0) -> bool:
    """Send a raw ApiVersions v0 request; True if the broker answers without error.

    Stdlib only, so readiness can be checked without any Kafka client. Kafka
    only starts processing requests once the broker caught up with metadata.
    """
    client_id = b"sitemon-devservices"
    body = struct.pack(">hhih", 18, 0, 7, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exact(sock, 10)
    except OSError:
        return False
    _size, correlation_id, error_code = struct.unpack(">iih", header)
    return correlation_id == 7 and error_code == 0


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    """Read exactly n bytes or raise ConnectionError."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


async def _create_probe_topic(bootstrap: str) -> bool:
    """Create (or find) the readiness topic through aiokafka's admin client.

    Creating a topic proves the controller is active and the broker is
    unfenced, which is what producers and consumers need.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # lazy: optional dependency

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        resp = await admin.create_topics([NewTopic(READINESS_TOPIC, 1, 1)])
        # 0 = created, 36 = TOPIC_ALREADY_EXISTS (e.g. after a restart).
        return all(err[1] in (0, 36) for err in resp.topic_errors)
    except Exception:  # noqa: BLE001 - any failure just means "not ready yet"
        return False
    finally:
        await admin.close()


def client_probe(bootstrap: str) -> bool:
    """Readiness via a real client when aiokafka is installed, else True."""
    try:
        import aiokafka  # noqa: F401 - only checking availability
    except ImportError:
        return True
    return run_coroutine(lambda: _create_probe_topic(bootstrap))


LOG4J2_TEMPLATE = """\
# Written by devservices: broker logs go to a file, not to the console.
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = file
# Per-request and state-change logs are very chatty at INFO.
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
"""


def _format_properties(props: dict[str, str]) -> str:
    """Render a Java .properties file (backslashes must be escaped)."""
    lines = [f"{k}={v.replace(chr(92), chr(92) * 2)}" for k, v in props.items()]
    return "\n".join(lines) + "\n"


class KafkaService:
    """A single-node Kafka broker+controller in KRaft mode on loopback ports.

    Call start() to fetch (if needed), format and launch; stop()/start() or
    restart() keep the same ports and data; cleanup() stops and deletes the
    temp directory. Usable as a context manager.
    """

    def __init__(
        self,
        *,
        version: str = KAFKA_VERSION,
        base_dir: Path | None = None,
        extra_properties: dict[str, str] | None = None,
        extra_listeners: dict[str, str] | None = None,
        heap: str = "512m",
        log_level: str = "INFO",
        startup_timeout: float = 90.0,
    ) -> None:
        """Configure, but do not start, a broker.

        extra_listeners maps a listener name to its security protocol, e.g.
        ``{"SSL": "SSL", "SASL_SSL": "SASL_SSL"}``; each gets its own free
        port (see listener_port()). Their settings (keystores, JAAS, ...) go
        into extra_properties, e.g. ``listener.name.ssl.ssl.keystore.location``.
        extra_properties override the defaults written to server.properties.
        """
        self.version = version
        self.extra_properties = dict(extra_properties or {})
        self.extra_listeners = dict(extra_listeners or {})
        self.heap = heap
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self._own_dir = base_dir is None
        self.base_dir = Path(base_dir) if base_dir else None
        self.ports: dict[str, int] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._formatted = False
        self._atexit_registered = False
        self.last_startup_seconds: float | None = None

    # -- paths and addresses -------------------------------------------------

    @property
    def config_file(self) -> Path:
        """server.properties of this broker."""
        return self._dir / "server.properties"

    @property
    def data_dir(self) -> Path:
        """Kafka log.dirs (also holds the KRaft metadata log)."""
        return self._dir / "data"

    @property
    def log_file(self) -> Path:
        """The broker's log4j2 log (INFO by default)."""
        return self._dir / "logs" / "server.log"

    @property
    def stdout_file(self) -> Path:
        """The JVM's stdout/stderr (crashes, log4j status messages)."""
        return self._dir / "logs" / "process.out"

    @property
    def port(self) -> int:
        """The PLAINTEXT listener port."""
        return self.listener_port("PLAINTEXT")

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT`` of the PLAINTEXT listener."""
        return f"{LOOPBACK}:{self.port}"

    def listener_port(self, name: str) -> int:
        """Port of a listener (PLAINTEXT, CONTROLLER or an extra listener)."""
        if name not in self.ports:
            raise ServiceError(f"listener {name!r} has no port yet (call start() first)")
        return self.ports[name]

    def bootstrap_for(self, name: str) -> str:
        """``127.0.0.1:PORT`` of any listener, e.g. bootstrap_for("SSL")."""
        return f"{LOOPBACK}:{self.listener_port(name)}"

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def _dir(self) -> Path:
        if self.base_dir is None:
            raise ServiceError("KafkaService has no directory yet (call start() first)")
        return self.base_dir

    # -- configuration ------------------------------------------------------------

    def _allocate_ports(self) -> None:
        names = ["PLAINTEXT", "CONTROLLER", *self.extra_listeners]
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))

    def _protocols(self) -> dict[str, str]:
        return {"PLAINTEXT": "PLAINTEXT", "CONTROLLER": "PLAINTEXT", **self.extra_listeners}

    def server_properties(self) -> dict[str, str]:
        """The full broker configuration written to server.properties."""
        urls = {n: f"{n}://{LOOPBACK}:{p}" for n, p in self.ports.items()}
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{LOOPBACK}:{self.ports['CONTROLLER']}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listeners": ",".join(urls.values()),
            "advertised.listeners": ",".join(u for n, u in urls.items() if n != "CONTROLLER"),
            "listener.security.protocol.map": ",".join(f"{n}:{p}" for n, p in self._protocols().items()),
            "log.dirs": str(self.data_dir),
            **_single_node_defaults(),
        }
        props.update(self.extra_properties)
        return props

    def _write_config(self) -> None:
        (self._dir / "logs").mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(_format_properties(self.server_properties()))
        log4j = LOG4J2_TEMPLATE.format(log_file=self.log_file, level=self.log_level)
        (self._dir / "log4j2.properties").write_text(log4j)

    def _java_cmd(self, main_class: str, *args: str) -> list[str]:
        lib = kafka_lib_dir(self.version)
        return [
            find_java(),
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self._dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self._dir / 'logs'}",
            "-cp", f"{lib}/*",
            main_class, *args,
        ]

    def _format_storage(self) -> None:
        """Write the KRaft meta.properties into log.dirs (once per data dir)."""
        cmd = self._java_cmd(
            "kafka.tools.StorageTool", "format",
            "-t", new_cluster_id(), "-c", str(self.config_file),
        )
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise ServiceError(f"kafka-storage format failed (exit {res.returncode}):\n{res.stdout}{res.stderr}")
        self._formatted = True

    def _prepare(self) -> None:
        """First start only: fetch jars, make dirs, pick ports, format storage."""
        fetch_kafka(self.version)
        if self.base_dir is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix="sitemon-kafka-"))
        self._allocate_ports()
        self._write_config()
        self._format_storage()

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> KafkaService:
        """Start the broker and block until it serves clients; return self.

        Raises ServiceError (with the broker log tail) if the process exits or
        is not ready within startup_timeout seconds.
        """
        if self.running:
            return self
        if not self._formatted:
            self._prepare()
        began = time.monotonic()
        self._launch()
        try:
            self._wait_ready()
        except BaseException:
            kill_now(self._proc)  # type: ignore[arg-type]
            raise
        self.last_startup_seconds = time.monotonic() - began
        return self

    def _launch(self) -> None:
        with open(self.stdout_file, "ab") as out:
            self._proc = subprocess.Popen(
                self._java_cmd("kafka.Kafka", str(self.config_file)),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self._dir,
                # Own session: a Ctrl-C aimed at pytest must not kill the
                # broker before the fixture's orderly stop() runs.
                start_new_session=True,
            )
        if not self._atexit_registered:
            atexit.register(self._atexit_stop)
            self._atexit_registered = True

    def _wait_ready(self) -> None:
        what = f"Kafka {self.version} on {self.bootstrap}"

        def died() -> str | None:
            rc = self._proc.poll() if self._proc else None
            return None if rc is None else f"broker process exited with code {rc}"

        def ready() -> bool:
            return api_versions_ok(self.port) and client_probe(self.bootstrap)

        try:
            poll_until(ready, self.startup_timeout, what, abort=died, interval=0.25)
        except ServiceError as exc:
            raise ServiceError(with_log(str(exc), self.stdout_file, self.log_file)) from None

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after `timeout`); keep its data."""
        if self._proc is not None:
            terminate(self._proc, timeout)
            self._proc = None

    def kill(self) -> None:
        """SIGKILL the broker, simulating a crash; start() brings it back."""
        if self._proc is not None:
            kill_now(self._proc)
            self._proc = None

    def restart(self) -> KafkaService:
        """stop() then start() on the same ports and data dir."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        """Stop the broker and delete its temp directory (if we created it)."""
        self.stop()
        if self._own_dir and self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None
            self._formatted = False

    def _atexit_stop(self) -> None:
        # Last resort if the owner never called stop(): no orphaned JVMs.
        if self.running:
            self.stop(timeout=10)

    def __enter__(self) -> KafkaService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def _single_node_defaults() -> dict[str, str]:
    """Broker settings that make sense for one node used by tests."""
    return {
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
    }
