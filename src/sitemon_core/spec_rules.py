"""What makes the spec of each probe kind checkable: the config loader's rules
(``sitemon_cli/config/{http,kinds,conditions,tls}.py``) where they concern a finished spec,
for specs that arrive from the catalogue topic (``site_rules.site_problem`` applies them).

Two config rules stay with the config loader: that TLS files are readable (they are read
on the scanner's host, and a check that cannot read one fails as data, naming the file),
and the normalisation of DNS answers (an unnormalised one only fails its check).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sitemon_core.conditions import JsonCondition, JsonOperator
from sitemon_core.models import DNS_RECORD_TYPES, DnsSpec, TcpSpec, TlsSettings

# A host name or an IP address (IPv6 without brackets, as the config loader stores it).
_SERVER = re.compile(r"^[A-Za-z0-9._:%-]+$")
_SCALARS = (str, int, float, bool, type(None))


def tls_problem(tls: TlsSettings | None) -> str | None:
    """Why a site's TLS settings cannot be used, or ``None``."""
    if tls is None:
        return None
    files = (tls.ca_file, tls.client_cert, tls.client_key)
    if any(path is not None and not path for path in files):
        return "tls files must be non-empty paths"
    if tls.client_key is not None and tls.client_cert is None:
        return "tls client_key needs client_cert"
    name = tls.server_name
    if name is not None and not (name and all(c.isalnum() or c in ".-" for c in name)):
        return f"tls server_name must be a host name, got {name!r}"
    return None


def conditions_problem(conditions: Iterable[JsonCondition]) -> str | None:
    """Why one of an HTTP site's JSON conditions cannot be evaluated, or ``None``."""
    for condition in conditions:
        operand, operator = condition.operand, condition.operator
        if not condition.path.startswith("$"):  # an RFC 9535 query starts at the root
            return f"json path must be a JSONPath query ($...), got {condition.path!r}"
        if not isinstance(operand, _SCALARS):
            return f"json operand must be a string, number, true, false or null: {operand!r}"
        if operator is JsonOperator.EXISTS and not isinstance(operand, bool):
            return f"json exists must be true or false, got {operand!r}"
        numeric = operator in (JsonOperator.LESS_THAN, JsonOperator.GREATER_THAN)
        if numeric and (isinstance(operand, bool) or not isinstance(operand, int | float)):
            return f"json {operator.value} must be a number, got {operand!r}"
    return None


def headers_expected_problem(expected: Iterable[tuple[str, str]]) -> str | None:
    """Why ``headers_expected`` cannot match (names are compared lower-case), or ``None``."""
    for name, _pattern in expected:
        if not name or name != name.lower():
            return f"headers_expected names must be lower-case header names, got {name!r}"
    return None


def user_agent_problem(user_agent: str | None) -> str | None:
    """Why a site's User-Agent cannot be sent (a CR or LF would end the header), or ``None``."""
    if user_agent is not None and not (user_agent and user_agent.isprintable()):
        return f"user_agent must be printable text, got {user_agent!r}"
    return None


def tcp_problem(spec: TcpSpec) -> str | None:
    """Why a TCP (or tls://) spec cannot be checked, or ``None``."""
    if not spec.host:
        return "tcp host must not be empty"
    if not 0 <= spec.port <= 65535:
        return f"tcp port must be 0-65535, got {spec.port}"
    return tls_problem(spec.tls_settings)


def dns_problem(spec: DnsSpec) -> str | None:
    """Why a DNS spec cannot be checked, or ``None``."""
    labels = spec.name.split(".")
    if not spec.name or len(spec.name) > 253 or any(not 0 < len(x) <= 63 for x in labels):
        return f"dns name must be a domain name, got {spec.name!r}"
    if spec.record_type not in DNS_RECORD_TYPES:
        types = ", ".join(DNS_RECORD_TYPES)
        return f"dns record_type must be one of {types}, got {spec.record_type!r}"
    if spec.server is not None and not _SERVER.match(spec.server):
        return f"dns server must be a host or an IP address, got {spec.server!r}"
    if not 1 <= spec.port <= 65535:
        return f"dns port must be 1-65535, got {spec.port}"
    return None
