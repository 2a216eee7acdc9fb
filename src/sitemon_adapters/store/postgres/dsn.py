"""The passwords a PostgreSQL DSN carries, so they can be masked wherever text is shown.

No driver import: the configuration loader uses this too, to register the secrets with
the log filter before anything connects.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus, urlsplit

_PASSWORD_KEYS = ("password", "sslpassword")


def dsn_passwords(dsn: str) -> list[str]:
    """Passwords in a PostgreSQL DSN: the URL's user info, ``?password=`` and
    ``?sslpassword=`` parameters, or a ``password=`` keyword; each as written, percent-
    decoded and form-decoded (a driver message may quote any of them), without repeats."""
    found: list[str] = []
    try:
        parts = urlsplit(dsn)
        userinfo = parts.netloc.rpartition("@")[0]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
        for param in parts.query.split("&"):
            key, _, value = param.partition("=")
            if key in _PASSWORD_KEYS and value:
                found.append(value)
    except ValueError:
        pass
    for word in dsn.split():
        key, _, value = word.partition("=")
        if key.strip() in _PASSWORD_KEYS and value:
            found.append(value.strip("'"))
    variants = (v for raw in found for v in (raw, unquote(raw), unquote_plus(raw)))
    return [v for v in dict.fromkeys(variants) if v]


def dsn_without_passwords(dsn: str) -> str:
    """``dsn`` as a message may name it: the user, host, database and options kept, every
    password (user info, ``?password=``, ``password=`` keyword) shown as ``***``."""
    dsn = _USERINFO_PASSWORD.sub(r"\1:***@", dsn, count=1)
    return _PASSWORD_PARAM.sub(r"\1=***", dsn)


_USERINFO_PASSWORD = re.compile(r"^([a-z][a-z0-9+.-]*://[^:/?#@]*):[^/?#]*@", re.IGNORECASE)
_PASSWORD_PARAM = re.compile(r"(?<![A-Za-z_])((?:ssl)?password)=('[^']*'|[^&\s]+)")
