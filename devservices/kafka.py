"""A real single-node Apache Kafka (KRaft, broker+controller) for tests.

The broker jars come from Maven Central (see fetch.py) and the broker runs
as a plain ``java`` child process on free loopback ports in a temp directory.
"""

from __future__ import annotations

import atexit
import base64
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from devservices.fetch import KAFKA_VERSION, fetch_kafka, find_java, kafka_lib_dir
from devservices.kafka_probe import api_versions_ok, client_probe
from devservices.ports import LOOPBACK, free_ports
from devservices.process import (
    ServiceError,
    error_lines,
    kill_now,
    poll_until,
    terminate,
    with_log,
)

__all__ = ["KAFKA_VERSION", "KafkaService", "fetch_kafka", "kafka_lib_dir", "new_cluster_id"]


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding.

    Kafka's own Uuid.randomUuid() rejects ids starting with '-' (they look
    like command-line flags), so we do the same.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


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
        format_args: list[str] | None = None,
    ) -> None:
        """Configure, but do not start, a broker.

        extra_listeners maps a listener name to its security protocol, e.g.
        ``{"SSL": "SSL", "SASL_SSL": "SASL_SSL"}``; each gets its own free
        port (see listener_port()). Their settings (keystores, JAAS, ...) go
        into extra_properties, e.g. ``listener.name.ssl.ssl.keystore.location``.
        extra_properties override the defaults written to server.properties.
        format_args are appended to ``kafka-storage format``, e.g.
        ``["--add-scram", "SCRAM-SHA-512=[name=alice,password=secret]"]``
        (in KRaft mode SCRAM users must exist from the start).
        """
        self.version = version
        self.extra_properties = dict(extra_properties or {})
        self.extra_listeners = dict(extra_listeners or {})
        self.format_args = list(format_args or [])
        self.heap = heap
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self._own_dir = base_dir is None
        self.base_dir = Path(base_dir) if base_dir else None
        self.ports: dict[str, int] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._formatted = False
        self._atexit_registered = False
        self._log_offset = 0
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
            "listener.security.protocol.map": ",".join(
                f"{n}:{p}" for n, p in self._protocols().items()
            ),
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
            # Kafka stops itself on SIGTERM; log4j's own hook only adds a
            # "JVM is shutting down" warning to process.out.
            "-Dlog4j2.shutdownHookEnabled=false",
            f"-Dlog4j2.configurationFile={self._dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self._dir / 'logs'}",
            "-cp",
            f"{lib}/*",
            main_class,
            *args,
        ]

    def _format_storage(self) -> None:
        """Write the KRaft meta.properties into log.dirs (once per data dir)."""
        cmd = self._java_cmd(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            new_cluster_id(),
            "-c",
            str(self.config_file),
            # A caller-provided base_dir may hold a formatted data dir already.
            "--ignore-formatted",
            *self.format_args,
        )
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise ServiceError(
                f"kafka-storage format failed (exit {res.returncode}):\n{res.stdout}{res.stderr}"
            )
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
        # Remember where this run's log starts, to quote only its errors.
        self._log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
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
            raise ServiceError(self._failure_report(str(exc))) from None

    def _failure_report(self, message: str) -> str:
        """The error message plus this run's ERROR lines and the log tails."""
        errors = error_lines(self.log_file, self._log_offset)
        if errors:
            message += f"\n--- ERROR lines in {self.log_file} ---\n" + "\n".join(errors)
        return with_log(message, self.stdout_file, self.log_file)

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
