"""asyncpg and socket exceptions -> ``RepositoryError`` with the right ``retriable`` flag.

Retriable means "the same batch may succeed later": the server is down, restarting,
overloaded, failing over, or the transaction lost a race. Anything about the data or the
schema is not retriable, since a redelivery would fail the same way.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence

import asyncpg  # no stubs (see [tool.mypy] overrides); typed at our boundary

from sitemon_core.errors import RepositoryError

# SQLSTATE classes where waiting and trying again can help:
# 08 connection exception, 53 insufficient resources (disk full, out of memory, too many
# connections), 57 operator intervention (admin/crash shutdown, cannot connect now,
# query canceled by statement_timeout), 58 system error (I/O error).
_RETRIABLE_CLASSES = frozenset({"08", "53", "57", "58"})
_RETRIABLE_STATES = frozenset(
    {
        "40001",  # serialization_failure
        "40003",  # statement_completion_unknown
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
        "55006",  # object_in_use
        "25006",  # read_only_sql_transaction: connected to a standby during a failover
    }
)

# Raised by asyncpg for values it cannot send; a subclass of InterfaceError, which is
# otherwise retriable ("connection is closed", "pool is closing").
_CLIENT_DATA_ERRORS = (
    asyncpg.exceptions._base.DataError,
    asyncpg.exceptions._base.ClientConfigurationError,
    asyncpg.exceptions._base.UnsupportedClientFeatureError,
    asyncpg.exceptions._base.UnsupportedServerFeatureError,
)

TRANSLATED = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions._base.InternalClientError,
    OSError,  # includes ConnectionRefusedError and TimeoutError (asyncio's too, on 3.11)
    ValueError,
    TypeError,
    OverflowError,
)


def is_retriable(exc: BaseException) -> bool:
    """Whether trying the same operation again later can succeed."""
    if isinstance(exc, asyncpg.PostgresError):
        state = exc.sqlstate or ""
        return state[:2] in _RETRIABLE_CLASSES or state in _RETRIABLE_STATES
    if isinstance(exc, _CLIENT_DATA_ERRORS):
        return False
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.exceptions._base.InternalClientError):
        return True  # connection lost or closed, protocol desync: a new connection helps
    if isinstance(exc, ssl.SSLCertVerificationError | FileNotFoundError | PermissionError):
        return False  # a wrong CA or a missing sslrootcert: waiting will not fix the config
    return isinstance(exc, OSError)


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every occurrence of each of ``secrets`` masked, longest first (a
    shorter variant may be part of a longer one)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def translate(exc: BaseException, operation: str, secrets: Sequence[str]) -> RepositoryError:
    """A ``RepositoryError`` for ``exc``, raised while doing ``operation``.

    The message names the exception type and SQLSTATE but never one of ``secrets`` (the
    DSN's passwords, see ``dsn.dsn_passwords``), even if a driver message quoted it.
    """
    detail, retriable = _describe(exc), is_retriable(exc)
    first = exc.__context__
    if isinstance(first, TRANSLATED) and first is not exc.__cause__:
        # E.g. the rollback failed because the connection had died: the first failure is
        # the informative one.
        detail += f" (after {_describe(first)})"
        retriable = retriable or is_retriable(first)
    return RepositoryError(
        f"PostgreSQL {operation} failed: {scrub(detail, secrets)}", retriable=retriable
    )


def _describe(exc: BaseException) -> str:
    state = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__}" + (f" [{state}]" if state else "") + f": {exc}"


def leaks(exc: BaseException, secrets: Sequence[str]) -> bool:
    """Whether ``exc`` or anything it chains to mentions one of ``secrets``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while secrets and current is not None and id(current) not in seen:
        seen.add(id(current))
        text, args = str(current), repr(current.args)
        if any(secret in text or secret in args for secret in secrets):
            return True
        current = current.__cause__ or current.__context__
    return False
