"""The probers' pattern syntax as a ``sitemon_core.site_rules.PatternCheck``: a site from the
catalogue is refused for a body regex or a JSONPath the probers' engines would not take,
as the config loader refuses it."""

from __future__ import annotations

import jsonpath_rfc9535
import regex

from sitemon_adapters.probe.http_common.body_regex import compile_body_regex
from sitemon_adapters.probe.http_common.conditions import compile_path


class ProbePatterns:
    """Compiles patterns with the engines the probers search and query with (cached)."""

    def regex_problem(self, pattern: str) -> str | None:
        """Why ``regex`` (the package) will not search with ``pattern``, or ``None``."""
        try:
            compile_body_regex(pattern)
        except regex.error as exc:
            return f"regular expression {pattern!r} is not supported: {exc}"
        return None

    def json_path_problem(self, path: str) -> str | None:
        """Why ``path`` is not an RFC 9535 JSONPath query, or ``None``."""
        try:
            compile_path(path)
        except jsonpath_rfc9535.JSONPathError as exc:
            return f"invalid JSONPath {path!r}: {exc}"
        return None
