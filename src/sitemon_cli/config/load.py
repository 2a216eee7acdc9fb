"""Loading a configuration file: strict YAML, every error named by file and key path."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs

from sitemon_adapters.bus.kafka.connection import KafkaConnection
from sitemon_adapters.store.postgres.dsn import dsn_passwords
from sitemon_cli.config.alerts import parse_alerts
from sitemon_cli.config.document import read_document
from sitemon_cli.config.keys import SECTION_KEYS
from sitemon_cli.config.model import (
    DEFAULT_KAFKA,
    Config,
    KafkaSettings,
    PersisterSettings,
    PostgresSettings,
    ScannerSettings,
)
from sitemon_cli.config.requirements import curl_problem
from sitemon_cli.config.secrets import secret as read_secret
from sitemon_cli.config.sites import parse_sites, sites_source
from sitemon_cli.config.values import (
    Section,
    choice,
    duration,
    listen_address,
    non_negative_int,
    positive_int,
    text,
)
from sitemon_cli.config.web import parse_web
from sitemon_cli.logs import register_secret
from sitemon_core.errors import ConfigError

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def load_config(path: str | Path) -> Config:
    """Read and validate ``path``; raises ``ConfigError`` naming file, key path and problem."""
    return parse_config(str(path), read_document(Path(path)))


def parse_config(source: str, document: object) -> Config:
    """Validate an already parsed document (``source`` names it in errors)."""
    root = Section(source, "", document, SECTION_KEYS[""])
    bus = root.child("bus", SECTION_KEYS["bus"])
    repo = root.child("repository", SECTION_KEYS["repository"])
    logging_ = root.child("logging", SECTION_KEYS["logging"])
    config = Config(
        source=source,
        sites=parse_sites(root),
        sites_source=sites_source(root),
        scanner=_scanner(root.child("scanner", SECTION_KEYS["scanner"])),
        persister=_persister(root.child("persister", SECTION_KEYS["persister"])),
        bus=bus.get("kind", choice("memory", "kafka"), "memory"),
        repository=repo.get("kind", choice("sqlite", "postgres"), "sqlite"),
        repository_configured=bool(repo.data),
        sqlite_path=repo.child("sqlite", SECTION_KEYS["repository.sqlite"]).get(
            "path", text, "sitemon.db"
        ),
        **_retention(repo),
        kafka=_kafka(bus.child("kafka", SECTION_KEYS["bus.kafka"])),
        postgres=_postgres(repo.child("postgres", SECTION_KEYS["repository.postgres"])),
        log_format=logging_.get("format", choice("human", "json"), "human"),
        log_level=logging_.get("level", choice("debug", "info", "warning", "error"), "info"),
        log_checks=logging_.get("checks", choice("all", "changes", "none"), "changes"),
        metrics_listen=root.child("metrics", SECTION_KEYS["metrics"]).get(
            "listen", listen_address, None
        ),
        web=parse_web(root),
    )
    config = attrs.evolve(config, alerts=parse_alerts(root, config.scanner.region))
    for secret in secrets_of(config):
        register_secret(secret)  # masked in every log line from now on
    return config


_ENCODE_HINT = (
    "percent-encode the user name and password (@ as %40, / as %2F, ? as %3F, # as %23, % as %25)"
)


def dsn_problem(dsn: str) -> str | None:
    """Why ``dsn`` is not a usable ``postgresql://`` URL, or None. Never quotes the DSN.

    An unencoded ``@ / ? #`` in the password makes the URL split elsewhere: the driver
    then reports part of the password as a host or port, in an error that no scrubbing
    can recognise. Refusing such a DSN up front keeps the password out of every message.
    """
    scheme, sep, rest = dsn.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        return "must be a postgresql://user:password@host:port/database URL"
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority = rest[:end]
    if authority.count("@") > 1 or ("@" not in authority and "@" in rest[end:]):
        return f"cannot tell the password from the host: {_ENCODE_HINT}"
    try:
        urlsplit(dsn)
    except ValueError:  # e.g. an unbalanced [ ] (IPv6 brackets)
        return f"invalid URL (if the password is the culprit: {_ENCODE_HINT})"
    for host in authority.rpartition("@")[2].split(","):  # asyncpg allows h1:p1,h2:p2
        port = host.partition("]")[2] if host.startswith("[") else host
        port = port.partition(":")[2]
        if port and not port.isdigit():
            return f"invalid port (if the password is the culprit: {_ENCODE_HINT})"
    return None


_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token"}
)


def secrets_of(config: Config) -> list[str]:
    """The secret values of ``config``: the Kafka passwords, the DSN's password (as written,
    percent-encoded, and decoded) and the values of credential headers of the sites."""
    values = [
        config.kafka.connection.sasl_password,
        config.kafka.connection.ssl_password,
        *dsn_passwords(config.postgres.dsn),
        *(config.alerts.secrets() if config.alerts else []),
        *config.web.secrets(),
    ]
    for site in config.sites:
        for name, value in getattr(site.spec, "headers", ()):
            if name.lower() in _SECRET_HEADERS:
                values += [value, value.partition(" ")[2]]  # "Bearer <token>": the token too
    return [v for v in values if v]


def default_user_agent(region: str) -> str:
    """``sitemon/<version> (<region>)``: a target's logs tell which scanner region called."""
    try:
        version = importlib.metadata.version("sitemon")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        version = "dev"
    return f"sitemon/{version} ({region})"


def _scanner(sec: Section) -> ScannerSettings:
    region = sec.get("region", text, "local")
    prober = sec.get("prober", choice("aiohttp", "curl"), "aiohttp")
    problem = curl_problem() if prober == "curl" else None
    if problem:  # caught by check-config, not only when the scanner starts
        raise sec.error(sec.key("prober"), problem)
    return ScannerSettings(
        region=region,
        prober=prober,
        max_concurrency=sec.get("max_concurrency", positive_int, 256),
        start_jitter_s=sec.get("start_jitter", duration, None),
        shutdown_grace_s=sec.get("shutdown_grace", duration, 5.0),
        user_agent=sec.get("user_agent", text, default_user_agent(region)),
        dns_cache_ttl_s=_whole_seconds(sec.get("dns_cache_ttl", duration, None)),
    )


def _whole_seconds(seconds: float | None) -> int | None:
    return None if seconds is None else max(1, round(seconds))


def _persister(sec: Section) -> PersisterSettings:
    return PersisterSettings(
        batch_size=sec.get("batch_size", positive_int, 5000),
        poll_timeout_s=sec.get("poll_timeout", duration, 0.5),
        max_in_flight=sec.get("max_in_flight", positive_int, 2),
    )


_SECRET_KEYS = ("ssl_password", "sasl_password")


_CONNECTION_KEYS = set(attrs.fields_dict(KafkaConnection))
# The broker's default group.min.session.timeout.ms and group.max.session.timeout.ms.
_SESSION_TIMEOUT_RANGE_S = (6.0, 1800.0)


def _session_timeout(sec: Section) -> float | None:
    seconds = sec.get("session_timeout", duration, None)
    low, high = _SESSION_TIMEOUT_RANGE_S
    if seconds is not None and not low <= seconds <= high:
        raise sec.error(
            sec.key("session_timeout"),
            f"must be between 6s and 30m (the broker's default group session "
            f"timeout range), got {seconds:g}s",
        )
    return seconds


def _kafka(sec: Section) -> KafkaSettings:
    values: dict[str, Any] = {
        k: sec.get(k, text, None)
        for k in (
            "bootstrap_servers",
            "topic",
            "dead_letter_topic",
            "group_id",
            "client_id",
            "ssl_cafile",
            "ssl_certfile",
            "ssl_keyfile",
            "sasl_username",
            "sites_topic",
        )
    }
    values |= {
        k: sec.get(k, positive_int, None)
        for k in ("partitions", "replication_factor", "max_buffered", "sites_partitions")
    }
    values |= {k: read_secret(sec, k) for k in _SECRET_KEYS}
    values["session_timeout_s"] = _session_timeout(sec)
    values["security_protocol"] = sec.get(
        "security_protocol", choice(*SECURITY_PROTOCOLS), "PLAINTEXT"
    )
    values["sasl_mechanism"] = sec.get("sasl_mechanism", choice(*SASL_MECHANISMS), None)
    protocol = values["security_protocol"]
    if str(protocol).startswith("SASL") and not (
        values["sasl_mechanism"] and values["sasl_username"]
    ):
        raise sec.error(
            sec.key("sasl_mechanism"),
            f"security_protocol {protocol} needs sasl_mechanism and sasl_username",
        )
    given = {k: v for k, v in values.items() if v is not None}
    connection = {k: v for k, v in given.items() if k in _CONNECTION_KEYS}
    return KafkaSettings(
        connection=attrs.evolve(DEFAULT_KAFKA, **connection),
        **{k: v for k, v in given.items() if k not in _CONNECTION_KEYS},
    )


ROLLUP_RETENTION_S = 400 * 86_400.0


def _retention(sec: Section) -> dict[str, Any]:
    history = sec.get("history_retention", duration, None)
    rollups: float = sec.get("rollup_retention", duration, ROLLUP_RETENTION_S)
    if history is not None and rollups < history:
        raise sec.error(
            sec.key("rollup_retention"),
            f"must not be shorter than repository.history_retention ({history:.0f}s),"
            f" got {rollups:.0f}s",
        )
    return {
        "history_retention_s": history,
        "history_retention_mode": sec.get(
            "history_retention_mode", choice("drop", "detach"), "drop"
        ),
        "rollup_retention_s": rollups,
    }


_DAY_S = 86_400


def partition_size(sec: Section, path: str, raw: Any) -> int:
    """A duration of whole hours that divides a day: partition boundaries then fall on the
    same instants for every process and on midnight UTC."""
    seconds = duration(sec, path, raw)
    if seconds % 3600 or _DAY_S % seconds:
        raise sec.error(
            path,
            f"must be whole hours dividing a day (1h, 2h, 3h, 4h, 6h, 8h, 12h or 1d), got {raw!r}",
        )
    return int(seconds)


def _postgres(sec: Section) -> PostgresSettings:
    dsn = sec.get("dsn", text, None)
    dsn_file = sec.get("dsn_file", text, None)
    if dsn_file is not None:
        dsn = read_secret(sec, "dsn")
    if dsn:  # empty (say, from an unset ${VAR:-}) means the default
        problem = dsn_problem(dsn)
        if problem:
            raise sec.error(sec.key("dsn_file" if dsn_file is not None else "dsn"), problem)
    return PostgresSettings(
        dsn=dsn or PostgresSettings().dsn,
        schema=sec.get("schema", text, "public"),
        pool_min=sec.get("pool_min", positive_int, 1),
        pool_max=sec.get("pool_max", positive_int, 4),
        partition_size_s=sec.get("partition_size", partition_size, _DAY_S),
        statement_cache_size=sec.get("statement_cache_size", non_negative_int, 100),
    )


__all__ = ["ConfigError", "duration", "load_config", "parse_config"]
