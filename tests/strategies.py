"""Hypothesis strategies for the core models, shared by unit and contract tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
from hypothesis import strategies as st

from sitemon_core.conditions import JsonCondition, JsonOperator
from sitemon_core.models import (
    DNS_RECORD_TYPES,
    CheckResult,
    DnsSpec,
    ErrorKind,
    Headers,
    HttpSpec,
    PhaseTimings,
    ProbeSpec,
    Site,
    TcpSpec,
    TlsSettings,
)

T = TypeVar("T")

# NUL cannot be stored in a PostgreSQL text column (and surrogates cannot be encoded as
# UTF-8, so hypothesis never generates them by default): the default text alphabet
# leaves NUL out so the same strategy serves every repository.
STORABLE_CHARACTERS = st.characters(codec="utf-8", exclude_characters="\x00")
ANY_CHARACTERS = st.characters(codec="utf-8")

# Microsecond precision, as on the wire and in the databases; a range every backend
# (Avro long, PostgreSQL timestamptz, Python datetime arithmetic) represents exactly.
UTC_DATETIMES = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.just(UTC),
)

FINITE_FLOATS = st.floats(allow_nan=False, allow_infinity=False)


def phase_timings() -> st.SearchStrategy[PhaseTimings]:
    """Timings with each phase independently measured or not."""
    maybe_ms = st.none() | FINITE_FLOATS
    return st.builds(
        PhaseTimings,
        dns_ms=maybe_ms,
        connect_ms=maybe_ms,
        tls_ms=maybe_ms,
        ttfb_ms=maybe_ms,
        transfer_ms=maybe_ms,
    )


def check_results(
    *,
    alphabet: st.SearchStrategy[str] = STORABLE_CHARACTERS,
    site_ids: st.SearchStrategy[str] | None = None,
    started_at: st.SearchStrategy[datetime] = UTC_DATETIMES,
) -> st.SearchStrategy[CheckResult]:
    """Arbitrary check results: every field independently varied, optionals None or not.

    ``alphabet`` generates the characters of the text fields; ``site_ids`` and ``started_at`` can be
    narrowed to make collisions (same site, same instant) likely.
    """
    text = st.text(alphabet, max_size=40)
    return st.builds(
        CheckResult,
        check_id=st.uuids().map(lambda u: u.hex),
        site_id=text if site_ids is None else site_ids,
        url=text,
        region=text,
        started_at=started_at,
        ok=st.booleans(),
        total_ms=FINITE_FLOATS,
        status_code=st.none() | st.integers(100, 599),
        timings=phase_timings(),
        regex_matched=st.none() | st.booleans(),
        bytes_read=st.integers(0, 2**63 - 1),
        final_url=st.none() | text,
        error_kind=st.sampled_from(ErrorKind),
        # Longer than the model's cap so truncation is exercised too.
        error_message=st.text(alphabet, max_size=400),
        tags=st.lists(st.text(alphabet, max_size=20), max_size=4, unique=True).map(
            lambda tags: tuple(sorted(tags))
        ),
        tls_not_after=st.none() | started_at,
        tls_version=st.none() | st.sampled_from(["TLSv1.2", "TLSv1.3"]),
        tls_issuer=st.none() | text,
        body_truncated=st.booleans(),
        degraded=st.booleans(),
        failed_condition=st.none() | st.sampled_from(["too_slow", "json_mismatch"]) | text,
        answers=st.lists(st.text(alphabet, max_size=20), max_size=3, unique=True).map(
            lambda answers: tuple(sorted(answers))
        ),
    )


SITE_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,30}", fullmatch=True)
POSITIVE_SECONDS = st.floats(min_value=0.001, max_value=86400, allow_nan=False)


def every_field(cls: type[T], **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[T]:
    """``st.builds(cls, **fields)``, refusing to leave out a field of the attrs class ``cls``:
    a field added to a model fails here until its strategy (and so the round-trip laws that
    use it) covers it."""
    names = {field.name for field in attrs.fields(cls)}  # type: ignore[misc]
    if names != fields.keys():
        raise AssertionError(
            f"strategy for {cls.__name__}: missing {sorted(names - fields.keys())}, "
            f"unknown {sorted(fields.keys() - names)}"
        )
    return st.builds(cls, **fields)


INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
# NaN is left out: it is not equal to itself, so no round trip can hold for it.
JSON_SCALARS = st.none() | st.booleans() | INT64 | st.floats(allow_nan=False) | st.text(max_size=20)


def _headers(text: st.SearchStrategy[str]) -> st.SearchStrategy[Headers]:
    return st.lists(st.tuples(text, text), max_size=3).map(tuple)


def tls_settings(
    alphabet: st.SearchStrategy[str] = ANY_CHARACTERS,
) -> st.SearchStrategy[TlsSettings]:
    """TLS settings with every field varied."""
    maybe_text = st.none() | st.text(alphabet, max_size=30)
    return every_field(
        TlsSettings,
        ca_file=maybe_text,
        client_cert=maybe_text,
        client_key=maybe_text,
        server_name=maybe_text,
        verify=st.booleans(),
    )


def json_conditions(
    alphabet: st.SearchStrategy[str] = ANY_CHARACTERS,
) -> st.SearchStrategy[JsonCondition]:
    """JSON conditions of every operator and every kind of operand."""
    return every_field(
        JsonCondition,
        path=st.text(alphabet, max_size=30),
        operator=st.sampled_from(JsonOperator),
        operand=JSON_SCALARS,
    )


def http_specs(alphabet: st.SearchStrategy[str] = ANY_CHARACTERS) -> st.SearchStrategy[HttpSpec]:
    """HTTP specs with every field varied (text fields over ``alphabet``)."""
    text = st.text(alphabet, max_size=30)
    return every_field(
        HttpSpec,
        url=text,
        method=st.sampled_from(["GET", "HEAD", "POST"]),
        headers=_headers(text),
        expected_statuses=st.frozensets(st.integers(100, 599), min_size=1, max_size=5),
        regex=st.none() | text,
        follow_redirects=st.booleans(),
        max_redirects=st.integers(1, 2**31 - 1),
        max_body_bytes=st.integers(1, 2**63 - 1),
        fail_on_large_body=st.booleans(),
        json_conditions=st.lists(json_conditions(alphabet), max_size=3).map(tuple),
        headers_expected=_headers(text),
        body=st.none() | text,
        user_agent=st.none() | text,
        tls=st.none() | tls_settings(alphabet),
    )


def tcp_specs(alphabet: st.SearchStrategy[str] = ANY_CHARACTERS) -> st.SearchStrategy[TcpSpec]:
    """TCP (and tls://) specs with every field varied."""
    return every_field(
        TcpSpec,
        host=st.text(alphabet, max_size=30),
        port=INT32,
        tls=st.booleans(),
        tls_settings=st.none() | tls_settings(alphabet),
    )


def dns_specs(alphabet: st.SearchStrategy[str] = ANY_CHARACTERS) -> st.SearchStrategy[DnsSpec]:
    """DNS specs with every field varied."""
    text = st.text(alphabet, max_size=30)
    return every_field(
        DnsSpec,
        name=text,
        record_type=st.sampled_from(DNS_RECORD_TYPES) | text,
        server=st.none() | text,
        port=INT32,
        tcp=st.booleans(),
        expected=st.frozensets(text, max_size=3),
    )


def probe_specs(alphabet: st.SearchStrategy[str] = ANY_CHARACTERS) -> st.SearchStrategy[ProbeSpec]:
    """A spec of any probe kind."""
    return st.one_of(http_specs(alphabet), tcp_specs(alphabet), dns_specs(alphabet))


def sites(alphabet: st.SearchStrategy[str] = ANY_CHARACTERS) -> st.SearchStrategy[Site]:
    """Arbitrary sites of every kind (not necessarily valid by the config rules: codecs carry
    anything)."""
    return every_field(
        Site,
        id=st.text(alphabet, max_size=40),
        interval_s=FINITE_FLOATS,
        timeout_s=FINITE_FLOATS,
        spec=probe_specs(alphabet),
        tags=st.frozensets(st.text(alphabet, max_size=20), max_size=4),
        degraded_after_s=st.none() | FINITE_FLOATS,
        fail_after_s=st.none() | FINITE_FLOATS,
        tls_expiry_warning_s=FINITE_FLOATS,
    )
