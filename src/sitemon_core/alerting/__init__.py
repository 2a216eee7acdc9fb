"""Alerting: incidents opened and resolved from check results, and notifications about them.

The alert state machine and the dispatcher are pure use cases; incidents and their pending
notifications are stored through ``IncidentRepository`` (an outbox: a transition and the
notifications it causes are stored in one transaction, then delivered off the check path by
``Notifier`` adapters with retries).
"""

from sitemon_core.alerting.alerter import Alerter, AlerterStats
from sitemon_core.alerting.dispatcher import Dispatcher, DispatcherStats
from sitemon_core.alerting.maintenance import Maintenance, MaintenanceWindow, OneOff, Weekly
from sitemon_core.alerting.models import (
    Delivery,
    DeliveryState,
    Incident,
    IncidentKind,
    Notification,
    Transition,
)
from sitemon_core.alerting.policy import AlertPolicy, SiteAlerting
from sitemon_core.alerting.ports import IncidentRepository, Notifier
from sitemon_core.alerting.state import Change, Event, SiteState, SiteTracker

__all__ = [
    "AlertPolicy",
    "Alerter",
    "AlerterStats",
    "Change",
    "Delivery",
    "DeliveryState",
    "Dispatcher",
    "DispatcherStats",
    "Event",
    "Incident",
    "IncidentKind",
    "IncidentRepository",
    "Maintenance",
    "MaintenanceWindow",
    "Notification",
    "Notifier",
    "OneOff",
    "SiteAlerting",
    "SiteState",
    "SiteTracker",
    "Transition",
    "Weekly",
]
