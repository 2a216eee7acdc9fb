"""A real throw-away PgBouncer in transaction mode, in front of a PostgreSQL, for tests.

Runs the distribution's binary (Debian: ``apt-get install pgbouncer``, which installs
``/usr/sbin/pgbouncer``; never its system service) on a free loopback port, with its config
in a temp dir: ``pool_mode = transaction`` (what managed PostgreSQL offerings put in front
of the database), a small server pool so clients really share server connections, trust
authentication for the upstream's user. As root it drops to an unprivileged user, as
PostgreSQL's service does.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from devservices.ports import LOOPBACK, free_port, port_is_open
from devservices.postgres import server_os_user
from devservices.process import ServiceError, kill_now, poll_until, terminate, with_log

BINARY_PATHS = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def find_pgbouncer() -> Path:
    """The PgBouncer binary: $SITEMON_PGBOUNCER_BIN, Debian's path, or on PATH."""
    env = os.environ.get("SITEMON_PGBOUNCER_BIN")
    candidates = [env] if env else [*BINARY_PATHS, shutil.which("pgbouncer")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise ServiceError("PgBouncer not found: apt-get install pgbouncer")


def render_config(upstream_dsn: str, port: int, pool_size: int, os_user: str | None) -> str:
    """pgbouncer.ini: every database of the upstream server, transaction pooling."""
    parts = urlsplit(upstream_dsn)
    lines = [
        "[databases]",
        f"* = host={parts.hostname or LOOPBACK} port={parts.port or 5432}",
        "[pgbouncer]",
        f"listen_addr = {LOOPBACK}",
        f"listen_port = {port}",
        "unix_socket_dir =",
        "auth_type = trust",
        "auth_file = userlist.txt",
        "pool_mode = transaction",
        f"default_pool_size = {pool_size}",
        "max_client_conn = 500",
        # What drivers send at startup that PgBouncer does not track.
        "ignore_startup_parameters = extra_float_digits",
        "server_reset_query =",
    ]
    if os_user:
        lines.append(f"user = {os_user}")
    return "\n".join(lines) + "\n"


class PgBouncerService:
    """PgBouncer on 127.0.0.1:<free port> in front of ``upstream_dsn``'s server.

    ``dsn`` is ``upstream_dsn`` with the host and port replaced by PgBouncer's. start()
    blocks until the port accepts connections; cleanup() stops it and deletes the temp dir.
    """

    def __init__(
        self, upstream_dsn: str, *, pool_size: int = 3, startup_timeout: float = 20.0
    ) -> None:
        """Configure, but do not start; raises ServiceError when there is no binary."""
        self.binary = find_pgbouncer()
        self.upstream_dsn = upstream_dsn
        self.pool_size = pool_size
        self.startup_timeout = startup_timeout
        self.base_dir: Path | None = None
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        """The DSN to connect through PgBouncer."""
        parts = urlsplit(self.upstream_dsn)
        user = parts.netloc.rpartition("@")[0]
        netloc = f"{user}@{LOOPBACK}:{self.port}" if user else f"{LOOPBACK}:{self.port}"
        return parts._replace(netloc=netloc).geturl()

    @property
    def log_file(self) -> Path:
        """PgBouncer's stdout and stderr."""
        if self.base_dir is None:
            raise ServiceError("PgBouncerService has no directory yet (call start() first)")
        return self.base_dir / "pgbouncer.log"

    def start(self) -> PgBouncerService:
        """Start and block until it listens; return self. Raises ServiceError with the log."""
        if self._proc is not None and self._proc.poll() is None:
            return self
        self.base_dir = Path(tempfile.mkdtemp(prefix="sitemon-pgbouncer-"))
        self.port = free_port()
        os_user = server_os_user()
        config = render_config(
            self.upstream_dsn, self.port, self.pool_size, os_user.name if os_user else None
        )
        (self.base_dir / "pgbouncer.ini").write_text(config)
        user = urlsplit(self.upstream_dsn).username or "postgres"
        (self.base_dir / "userlist.txt").write_text(f'"{user}" ""\n')
        with open(self.log_file, "ab") as out:
            self._proc = subprocess.Popen(
                [str(self.binary), "pgbouncer.ini"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.base_dir,
                start_new_session=True,
            )
        atexit.register(self.stop)
        try:
            self._wait_ready()
        except BaseException:
            kill_now(self._proc)
            self._proc = None
            raise
        return self

    def _wait_ready(self) -> None:
        def died() -> str | None:
            rc = self._proc.poll() if self._proc else None
            return None if rc is None else f"process exited with code {rc}"

        port = self.port or 0
        try:
            poll_until(
                lambda: port_is_open(port),
                self.startup_timeout,
                f"PgBouncer on {LOOPBACK}:{port}",
                abort=died,
            )
        except ServiceError as exc:
            raise ServiceError(with_log(str(exc), self.log_file)) from None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (then SIGKILL after ``timeout``)."""
        if self._proc is not None:
            terminate(self._proc, timeout)
            self._proc = None

    def cleanup(self) -> None:
        """Stop and delete the temp directory."""
        self.stop()
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    def __enter__(self) -> PgBouncerService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
