"""How one site is alerted on: thresholds, regions, flapping, reminders and where to send.

Defaults follow Gatus (3 failures make a region failing, 2 successes recover it) and Nagios
(flapping = more than 5 state changes within the last 21 checks). The config layer turns
invalid values into a ``check-config`` error naming the key; the validators here are the
last line of defence (``ValueError``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from sitemon_core.alerting.maintenance import names
from sitemon_core.models import DEFAULT_TLS_EXPIRY_WARNING_S

Resends = tuple[tuple[str, float], ...]


def _positive_int(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value}")


def _positive_period(
    _instance: object, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value}")


def _resend_pairs(value: Mapping[str, float] | Iterable[tuple[str, float]]) -> Resends:
    items = value.items() if isinstance(value, Mapping) else value
    pairs = tuple(sorted((str(name), float(period)) for name, period in items))
    for name, period in pairs:
        if not period > 0:
            raise ValueError(f"resend_every_s[{name}] must be a positive number, got {period}")
    return pairs


def _names(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class AlertPolicy:
    """Alerting settings of one site (frozen and hashable: shared by many sites).

    ``notifiers`` are the configured notifier names this site's notifications go to;
    ``resend_every_s`` maps a notifier name to the period at which a firing incident is
    re-sent to it (Alertmanager resolves an alert by itself when it is not re-sent within
    its ``resolve_timeout``); ``renotify_every_s`` re-sends to every notifier (off: None).
    """

    failure_threshold: int = attrs.field(default=3, validator=_positive_int)
    success_threshold: int = attrs.field(default=2, validator=_positive_int)
    confirm_regions: int = attrs.field(default=1, validator=_positive_int)
    flap_window: int = attrs.field(default=21, validator=_positive_int)
    flap_max_changes: int = attrs.field(default=5, validator=_positive_int)
    renotify_every_s: float | None = attrs.field(default=None, validator=_positive_period)
    notifiers: tuple[str, ...] = attrs.field(default=(), converter=_names)
    resend_every_s: Resends = attrs.field(default=(), converter=_resend_pairs)

    def reminder_period(self, notifier: str) -> float | None:
        """Seconds between reminders to ``notifier`` while an incident is open (None: never).

        The shorter of the notifier's own resend period and ``renotify_every_s``.
        """
        periods = [p for name, p in self.resend_every_s if name == notifier]
        if self.renotify_every_s is not None:
            periods.append(self.renotify_every_s)
        return min(periods) if periods else None


@attrs.frozen(kw_only=True)
class SiteAlerting:
    """What the alerter knows about one site: its policy, check interval, tags and
    certificate warning window.

    The interval says how old a region's last result may be and still count (two
    intervals); the tags select maintenance windows and label the incident; a certificate
    expiring within ``tls_expiry_warning_s`` of a check opens a certificate warning.
    """

    policy: AlertPolicy = AlertPolicy()
    interval_s: float = 60.0
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=names)
    tls_expiry_warning_s: float = DEFAULT_TLS_EXPIRY_WARNING_S

    def __attrs_post_init__(self) -> None:
        if not self.interval_s > 0:
            raise ValueError(f"interval_s must be positive, got {self.interval_s}")
        if not self.tls_expiry_warning_s >= 0:
            raise ValueError(
                f"tls_expiry_warning_s must not be negative, got {self.tls_expiry_warning_s}"
            )
