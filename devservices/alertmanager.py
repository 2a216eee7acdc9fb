"""A real throw-away Prometheus Alertmanager for tests.

Runs the distribution's binary (Debian: ``apt-get install prometheus-alertmanager``, which
installs ``/usr/bin/prometheus-alertmanager``; never its system service) on a free loopback
port, with its config and storage in a temp dir, no cluster gossip
(``--cluster.listen-address=``), and one route to a webhook receiver (``receiver_url``,
e.g. a ``WebhookSink``). The group timers are short so tests are fast: a new group is sent
after ``group_wait``, changes to it (new or resolved alerts) after ``group_interval``.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devservices.ports import LOOPBACK, free_port
from devservices.process import ServiceError, kill_now, poll_until, terminate, with_log
from devservices.webhook_sink import WebhookSink

BINARY_NAMES = ("prometheus-alertmanager", "alertmanager")


def find_alertmanager() -> Path:
    """The Alertmanager binary: $SITEMON_ALERTMANAGER_BIN, else the first of
    ``prometheus-alertmanager`` (Debian's name) or ``alertmanager`` on PATH."""
    env = os.environ.get("SITEMON_ALERTMANAGER_BIN")
    if env:
        if not os.access(env, os.X_OK):
            raise ServiceError(f"SITEMON_ALERTMANAGER_BIN={env} is not an executable")
        return Path(env)
    for name in BINARY_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ServiceError("Alertmanager not found: apt-get install prometheus-alertmanager")


def render_config(
    receiver_url: str,
    *,
    group_by: tuple[str, ...],
    group_wait: str,
    group_interval: str,
    repeat_interval: str,
) -> str:
    """alertmanager.yml: one route, grouped by ``group_by``, to one webhook receiver that
    is also told about resolved alerts. (JSON is YAML: every value is quoted safely.)"""
    config = {
        "route": {
            "receiver": "sink",
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [
            {
                "name": "sink",
                "webhook_configs": [{"url": receiver_url, "send_resolved": True}],
            }
        ],
    }
    return json.dumps(config, indent=2) + "\n"


class AlertmanagerService:
    """An Alertmanager on 127.0.0.1:<free port>, config and data in a temp dir.

    start() blocks until ``/-/ready`` answers 200; stop() keeps the data; cleanup() stops
    and deletes everything. Usable as a context manager.
    """

    def __init__(
        self,
        *,
        receiver_url: str,
        base_dir: Path | None = None,
        group_by: tuple[str, ...] = ("alertname",),
        group_wait: str = "200ms",
        group_interval: str = "500ms",
        repeat_interval: str = "1h",
        startup_timeout: float = 30.0,
    ) -> None:
        """Configure, but do not start; raises ServiceError when there is no binary."""
        self.binary = find_alertmanager()
        self.config_text = render_config(
            receiver_url,
            group_by=group_by,
            group_wait=group_wait,
            group_interval=group_interval,
            repeat_interval=repeat_interval,
        )
        self.startup_timeout = startup_timeout
        self._own_dir = base_dir is None
        self.base_dir = Path(base_dir) if base_dir else None
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._atexit_registered = False

    @property
    def _dir(self) -> Path:
        if self.base_dir is None:
            raise ServiceError("AlertmanagerService has no directory yet (call start() first)")
        return self.base_dir

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the API is under ``/api/v2/``."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def config_file(self) -> Path:
        """The generated alertmanager.yml."""
        return self._dir / "alertmanager.yml"

    @property
    def log_file(self) -> Path:
        """Alertmanager's stdout and stderr (its log)."""
        return self._dir / "alertmanager.log"

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def _command(self) -> list[str]:
        return [
            str(self.binary),
            f"--config.file={self.config_file}",
            f"--storage.path={self._dir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            "--cluster.listen-address=",  # no gossip, no second port
            "--log.level=debug",
        ]

    def start(self) -> AlertmanagerService:
        """Start and block until ready; return self. Raises ServiceError with the log tail."""
        if self.running:
            return self
        if self.base_dir is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix="sitemon-alertmanager-"))
        self.config_file.write_text(self.config_text)
        if self.port is None:
            self.port = free_port()
        with open(self.log_file, "ab") as out:
            self._proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self._dir,
                start_new_session=True,  # a Ctrl-C aimed at pytest must not kill it first
            )
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        try:
            self._wait_ready()
        except BaseException:
            kill_now(self._proc)
            self._proc = None
            raise
        return self

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _wait_ready(self) -> None:
        def died() -> str | None:
            rc = self._proc.poll() if self._proc else None
            return None if rc is None else f"process exited with code {rc}"

        try:
            poll_until(self._ready, self.startup_timeout, f"Alertmanager on {self.url}", abort=died)
        except ServiceError as exc:
            raise ServiceError(with_log(str(exc), self.log_file)) from None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (then SIGKILL after ``timeout``); keep config and data."""
        if self._proc is not None:
            terminate(self._proc, timeout)
            self._proc = None

    def cleanup(self) -> None:
        """Stop and delete the temp directory (if we created it)."""
        self.stop()
        if self._own_dir and self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    def __enter__(self) -> AlertmanagerService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


@dataclass(frozen=True)
class AlertmanagerRig:
    """What the tests get: an Alertmanager's base URL and the sink its receiver posts to."""

    url: str
    sink: WebhookSink
