"""Developer sessions: ``nox -s unit contract e2e lint typecheck``, ``nox -s tests`` (all),
``nox -s bench``. Contract and e2e tests start a real Kafka and PostgreSQL themselves
(see devservices/) unless SITEMON_KAFKA_BOOTSTRAP / SITEMON_PG_DSN point at running ones."""

from __future__ import annotations

import nox

nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests"]

PYTHON = "3.11"


def _install(session: nox.Session, extras: str = "test") -> None:
    session.install("-q", "-e", f".[{extras}]")


@nox.session(python=PYTHON)
def unit(session: nox.Session) -> None:
    """Unit tests: core use cases with in-memory adapters, codec and config laws."""
    _install(session)
    session.run("pytest", "tests/unit", *session.posargs)


@nox.session(python=PYTHON)
def contract(session: nox.Session) -> None:
    """One suite per port over every adapter, real Kafka and PostgreSQL included."""
    _install(session)
    session.run("pytest", "tests/contract", *session.posargs)


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """Producer and consumer as separate processes against real Kafka and PostgreSQL."""
    _install(session)
    session.run("pytest", "tests/e2e", *session.posargs)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Every test folder in one run, so Kafka and PostgreSQL start once."""
    _install(session)
    session.run("pytest", "tests", *session.posargs)


LINTED = ("src", "tests", "devservices", "benchmarks", "examples", "noxfile.py")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (lint and format) over everything; import-linter's layering contracts."""
    session.install("-q", "ruff>=0.5", "import-linter>=2.1")
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)
    session.install("-q", "-e", ".")  # import-linter reads the installed packages
    session.run("lint-imports")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict: the core first, with nothing but attrs installed (it must type-check
    without any driver), then everything that ships (src) with its dependencies."""
    session.install("-q", "mypy>=1.10", "attrs>=23.1")
    session.run("mypy", "--strict", "src/sitemon_core")
    session.install("-q", "-e", ".[dev,curl]")
    session.run("mypy", "--strict", "src")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks (see BENCHMARKS.md): ``nox -s bench -- --quick`` runs every scenario small.

    Needs nginx, prometheus-blackbox-exporter and wrk from Debian for the full picture (the
    farm falls back to an asyncio server, the peer scenario is skipped without them); Kafka
    and PostgreSQL come from devservices like in the tests.
    """
    _install(session, "test,speed,curl")
    session.run("python", "-m", "benchmarks", *session.posargs)
