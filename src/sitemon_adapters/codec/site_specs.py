"""The spec of each probe kind <-> its Avro record (a branch of the site schema's ``spec``
union); what ``site_avro`` frames.

Every field of a spec is written, named as in ``sitemon_core.specs``; a unit test walks
the model's fields and fails when the schema lacks one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sitemon_core.conditions import JsonCondition, JsonOperator
from sitemon_core.models import DnsSpec, HttpSpec, ProbeSpec, TcpSpec, TlsSettings

_OPERATORS = {operator.value: operator for operator in JsonOperator}

# Most sites share their status set (2xx: a 100-element frozenset, ~4 KB) and their tags:
# one shared instance each keeps 100,000 decoded sites in tens, not hundreds, of MB.
_SHARED: dict[tuple[Any, ...], frozenset[Any]] = {}
_MAX_SHARED = 4096
_EMPTY: frozenset[Any] = frozenset()


def shared(items: list[Any]) -> frozenset[Any]:
    """``frozenset(items)``, one instance for equal lists seen before."""
    if not items:
        return _EMPTY
    key = tuple(items)
    found = _SHARED.get(key)
    if found is None:
        found = frozenset(items)
        if len(_SHARED) < _MAX_SHARED:
            _SHARED[key] = found
    return found


def _ranges(codes: frozenset[int]) -> list[tuple[int, int]]:
    """Sorted codes as inclusive runs: {200, ..., 299} is [(200, 299)] (one record, not 100)."""
    runs: list[tuple[int, int]] = []
    for code in sorted(codes):
        if runs and runs[-1][1] == code - 1:
            runs[-1] = (runs[-1][0], code)
        else:
            runs.append((code, code))
    return runs


def _statuses(ranges: list[dict[str, int]]) -> frozenset[int]:
    # One range (any 2xx) is the common case: its key is built without a generator.
    key: tuple[Any, ...] = (
        ((ranges[0]["low"], ranges[0]["high"]),)
        if len(ranges) == 1
        else tuple((r["low"], r["high"]) for r in ranges)
    )
    found = _SHARED.get(key)
    if found is None:
        found = frozenset(c for low, high in key for c in range(low, high + 1))
        if len(_SHARED) < _MAX_SHARED:
            _SHARED[key] = found
    return found


def _pairs(headers: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers]


def _unpairs(records: list[dict[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((h["name"], h["value"]) for h in records) if records else ()


def _tls_record(tls: TlsSettings | None) -> dict[str, Any] | None:
    if tls is None:
        return None
    return {
        "ca_file": tls.ca_file,
        "client_cert": tls.client_cert,
        "client_key": tls.client_key,
        "server_name": tls.server_name,
        "verify": tls.verify,
    }


def _tls(value: tuple[str, dict[str, Any]] | None) -> TlsSettings | None:
    if value is None:
        return None
    _name, record = value  # a record in a union: (name, record), as ``spec_of`` says
    return TlsSettings(
        ca_file=record["ca_file"],
        client_cert=record["client_cert"],
        client_key=record["client_key"],
        server_name=record["server_name"],
        verify=record["verify"],
    )


def _condition(record: dict[str, Any]) -> JsonCondition:
    return JsonCondition(record["path"], _OPERATORS[record["operator"]], record["operand"])


def _http_record(spec: HttpSpec) -> dict[str, Any]:
    return {
        "url": spec.url,
        "method": spec.method,
        "headers": _pairs(spec.headers),
        "expected_statuses": [
            {"low": lo, "high": hi} for lo, hi in _ranges(spec.expected_statuses)
        ],
        "regex": spec.regex,
        "follow_redirects": spec.follow_redirects,
        "max_redirects": spec.max_redirects,
        "max_body_bytes": spec.max_body_bytes,
        "fail_on_large_body": spec.fail_on_large_body,
        "json_conditions": [
            {"path": c.path, "operator": c.operator.value, "operand": c.operand}
            for c in spec.json_conditions
        ],
        "headers_expected": _pairs(spec.headers_expected),
        "body": spec.body,
        "user_agent": spec.user_agent,
        "tls": _tls_record(spec.tls),
    }


def _http_spec(record: dict[str, Any]) -> HttpSpec:
    # A version-1 record resolved into this schema gets the new fields' defaults.
    return HttpSpec(
        url=record["url"],
        method=record["method"],
        headers=_unpairs(record["headers"]),
        expected_statuses=_statuses(record["expected_statuses"]),
        regex=record["regex"],
        follow_redirects=record["follow_redirects"],
        max_redirects=record["max_redirects"],
        max_body_bytes=record["max_body_bytes"],
        fail_on_large_body=record["fail_on_large_body"],
        json_conditions=tuple(_condition(c) for c in record["json_conditions"]),
        headers_expected=_unpairs(record["headers_expected"]),
        body=record["body"],
        user_agent=record["user_agent"],
        tls=_tls(record["tls"]),
    )


def _tcp_record(spec: TcpSpec) -> dict[str, Any]:
    return {
        "host": spec.host,
        "port": spec.port,
        "tls": spec.tls,
        "tls_settings": _tls_record(spec.tls_settings),
    }


def _tcp_spec(record: dict[str, Any]) -> TcpSpec:
    return TcpSpec(
        host=record["host"],
        port=record["port"],
        tls=record["tls"],
        tls_settings=_tls(record["tls_settings"]),
    )


def _dns_record(spec: DnsSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "record_type": spec.record_type,
        "server": spec.server,
        "port": spec.port,
        "tcp": spec.tcp,
        "expected": sorted(spec.expected),
    }


def _dns_spec(record: dict[str, Any]) -> DnsSpec:
    return DnsSpec(
        name=record["name"],
        record_type=record["record_type"],
        server=record["server"],
        port=record["port"],
        tcp=record["tcp"],
        expected=shared(record["expected"]),
    )


# kind -> (union branch name, spec -> record, record -> spec). A new probe kind adds a row
# (and a record to the union, in a new schema version).
_BRANCHES: dict[str, tuple[str, Callable[[Any], dict[str, Any]], Callable[..., Any]]] = {
    "http": ("io.sitemon.HttpSpec", _http_record, _http_spec),
    "tcp": ("io.sitemon.TcpSpec", _tcp_record, _tcp_spec),
    "dns": ("io.sitemon.DnsSpec", _dns_record, _dns_spec),
}
_BY_BRANCH = {name: decode for name, _encode, decode in _BRANCHES.values()}


def spec_branch(spec: ProbeSpec) -> tuple[str, dict[str, Any]]:
    """``spec`` as (union branch name, record): fastavro writes such a tuple as that branch."""
    branch, encode, _decode = _BRANCHES[spec.kind]
    return branch, encode(spec)


def spec_of(value: Any) -> ProbeSpec:
    """The spec in a decoded union value, (branch name, record) with
    ``return_record_name=True``."""
    name, record = value
    spec: ProbeSpec = _BY_BRANCH[name](record)
    return spec
