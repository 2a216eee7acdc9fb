"""A real throw-away PostgreSQL server for tests.

Uses the distribution's server binaries (Debian: /usr/lib/postgresql/N/bin)
to initdb a cluster in a temp directory and run it on a free loopback port.
PostgreSQL refuses to run as root, so as root every server-side command runs
as an unprivileged OS user (``postgres`` if it exists, else ``nobody``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devservices.ports import LOOPBACK, free_port
from devservices.process import ServiceError, poll_until, with_log

SETTINGS_FILE = "sitemon.conf"


def _version_key(path: Path) -> tuple[int, ...]:
    """Sort key for /usr/lib/postgresql/<version>/bin paths (15 < 16 < 17)."""
    version = path.parent.parent.name
    return tuple(int(n) for n in re.findall(r"\d+", version)) or (0,)


def find_pg_bindir() -> Path:
    """Directory holding initdb/pg_ctl: $SITEMON_PG_BINDIR, newest Debian
    /usr/lib/postgresql/*/bin, or wherever initdb is on PATH."""
    env = os.environ.get("SITEMON_PG_BINDIR")
    if env:
        if not (Path(env) / "initdb").is_file():
            raise ServiceError(f"SITEMON_PG_BINDIR={env} has no initdb")
        return Path(env)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version_key)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ServiceError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    )


@dataclass(frozen=True)
class OsUser:
    """The unprivileged account that owns and runs the cluster when we are root."""

    name: str
    uid: int
    gid: int


def server_os_user() -> OsUser | None:
    """None when not root; else $SITEMON_PG_OS_USER, ``postgres`` or ``nobody``."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("SITEMON_PG_OS_USER"), "postgres", "nobody"):
        if not name:
            continue
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return OsUser(name, entry.pw_uid, entry.pw_gid)
    raise ServiceError(
        "running as root and found no unprivileged user (postgres/nobody) for PostgreSQL"
    )


def quote_setting(value: str) -> str:
    """Quote a postgresql.conf value (single quotes, doubled inside)."""
    return "'" + value.replace("'", "''") + "'"


class PostgresService:
    """A PostgreSQL cluster in a temp dir, listening on 127.0.0.1:<free port>.

    start() runs initdb (first time), starts the server and creates the
    database; stop()/start() or restart() keep port and data; cleanup()
    stops and deletes everything. Usable as a context manager.
    """

    def __init__(
        self,
        *,
        base_dir: Path | None = None,
        user: str = "sitemon",
        database: str = "sitemon",
        settings: dict[str, str] | None = None,
        files: dict[str, str | bytes] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        """Configure, but do not start, a cluster.

        settings: extra postgresql.conf settings, e.g. ``{"fsync": "off"}``
        or ``{"ssl": "on", "ssl_cert_file": "server.crt"}``.
        files: files written into the data directory after initdb (relative
        path -> content, mode 0600, owned by the server user), e.g. TLS keys
        or a replacement ``pg_hba.conf``.
        """
        self.user = user
        self.database = database
        self.settings = dict(settings or {})
        self.files = dict(files or {})
        self.startup_timeout = startup_timeout
        self._own_dir = base_dir is None
        self.base_dir = Path(base_dir) if base_dir else None
        self.bindir = find_pg_bindir()
        self.os_user = server_os_user()
        self.port: int | None = None
        self._initialized = False
        self._atexit_registered = False

    # -- paths and addresses -------------------------------------------------

    @property
    def _dir(self) -> Path:
        if self.base_dir is None:
            raise ServiceError("PostgresService has no directory yet (call start() first)")
        return self.base_dir

    @property
    def data_dir(self) -> Path:
        """PGDATA of the cluster."""
        return self._dir / "data"

    @property
    def socket_dir(self) -> Path:
        """Directory of the Unix socket (kept out of /var/run/postgresql)."""
        return self._dir / "sock"

    @property
    def log_file(self) -> Path:
        """The server log (pg_ctl -l)."""
        return self._dir / "postgres.log"

    def dsn_for(self, database: str) -> str:
        """postgresql:// DSN for another database of this cluster."""
        return f"postgresql://{self.user}@{LOOPBACK}:{self.port}/{database}"

    @property
    def dsn(self) -> str:
        """postgresql://sitemon@127.0.0.1:PORT/sitemon (trust auth, no password)."""
        return self.dsn_for(self.database)

    @property
    def running(self) -> bool:
        """True while the postmaster of this data dir is alive (pg_ctl status)."""
        if self.base_dir is None or not self.data_dir.is_dir():
            return False
        res = self._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "status"], check=False)
        return res.returncode == 0

    # -- command helpers --------------------------------------------------------

    def _bin(self, name: str) -> str:
        return str(self.bindir / name)

    def _run(
        self, cmd: list[str], *, check: bool = True, as_server: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL command; server-side ones (initdb, pg_ctl) as the
        server OS user when we are root. Clients (psql) stay the caller: as
        the postgres user with root's $HOME they would fail to read ~/.postgresql.
        """
        ids = {}
        if as_server and self.os_user is not None:
            ids = {"user": self.os_user.uid, "group": self.os_user.gid, "extra_groups": []}
        # cwd: root's home is unreadable for the postgres user.
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=self._dir, check=False, **ids)
        if check and res.returncode != 0:
            message = f"{' '.join(cmd)} failed (exit {res.returncode}):\n{res.stdout}{res.stderr}"
            raise ServiceError(with_log(message, self.log_file))
        return res

    def _chown(self, path: Path) -> None:
        if self.os_user is not None:
            os.chown(path, self.os_user.uid, self.os_user.gid)

    # -- first start ------------------------------------------------------------

    def _prepare(self) -> None:
        """First start only: temp dir, port, initdb, settings and files."""
        if self.base_dir is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix="sitemon-pg-"))
        self._chown(self._dir)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        self._chown(self.socket_dir)
        self.port = free_port()
        self._run(
            [
                self._bin("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ]
        )
        self._write_settings()
        for name, content in self.files.items():
            self.write_file(name, content)
        self._initialized = True

    def server_settings(self) -> dict[str, str]:
        """All settings written to sitemon.conf (extra settings win)."""
        return {
            "port": str(self.port),
            "listen_addresses": LOOPBACK,
            "unix_socket_directories": str(self.socket_dir),
            **self.settings,
        }

    def _write_settings(self) -> None:
        lines = [f"{k} = {quote_setting(v)}" for k, v in self.server_settings().items()]
        self.write_file(SETTINGS_FILE, "\n".join(lines) + "\n")
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"\n# added by devservices\ninclude_if_exists = '{SETTINGS_FILE}'\n")

    def write_file(self, name: str, content: str | bytes) -> Path:
        """Write a file into the data dir, owned by the server user, mode 0600.

        Mode 0600 matters: PostgreSQL refuses a TLS key readable by others.
        The data dir exists from the first start() on: use it then, before a
        restart(); for the first start pass ``files`` to the constructor.
        """
        path = self.data_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(path, 0o600)
        self._chown(path)
        return path

    def _create_database(self) -> None:
        exists = self._psql(
            "postgres", f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"
        )
        if exists.strip() != "1":
            self._psql("postgres", f'CREATE DATABASE "{self.database}"')

    def _psql(self, database: str, sql: str) -> str:
        """Run SQL as the superuser over the Unix socket: it works whatever
        TCP rules (hostssl, passwords) a custom pg_hba.conf sets, as long as
        it keeps initdb's ``local all all trust`` line."""
        cmd = [
            self._bin("psql"),
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            database,
            "-c",
            sql,
        ]
        return self._run(cmd, as_server=False).stdout

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> PostgresService:
        """Start the server and block until it accepts TCP connections; return self.

        Raises ServiceError (with the server log tail) on failure.
        """
        if not self._initialized:
            self._prepare()
        elif self.running:
            return self
        self._register_atexit()
        self._run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(int(self.startup_timeout)),
                "-s",
                "start",
            ]
        )
        self._wait_ready()
        self._create_database()
        return self

    def _wait_ready(self) -> None:
        """pg_ctl -w waits for the postmaster; also confirm TCP on 127.0.0.1."""
        cmd = [self._bin("pg_isready"), "-q", "-h", LOOPBACK, "-p", str(self.port), "-U", self.user]
        try:
            poll_until(
                lambda: self._run(cmd, check=False, as_server=False).returncode == 0,
                self.startup_timeout,
                f"PostgreSQL on {LOOPBACK}:{self.port}",
                interval=0.1,
            )
        except ServiceError as exc:
            raise ServiceError(with_log(str(exc), self.log_file)) from None

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (pg_ctl stop -m fast|smart|immediate); keep its data.

        ``immediate`` skips the shutdown checkpoint, like a crash.
        """
        if self.running:
            self._run(
                [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "-s", "stop"]
            )

    def restart(self) -> PostgresService:
        """stop() then start() on the same port and data dir."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        """Stop the server and delete its temp directory (if we created it)."""
        self.stop()
        if self._own_dir and self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None
            self._initialized = False

    def _register_atexit(self) -> None:
        # pg_ctl daemonizes postgres: without this an interpreter that never
        # called stop() would leave a server running after it exits.
        if not self._atexit_registered:
            atexit.register(self._atexit_stop)
            self._atexit_registered = True

    def _atexit_stop(self) -> None:
        with contextlib.suppress(ServiceError):
            self.stop(mode="immediate")

    def __enter__(self) -> PostgresService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
