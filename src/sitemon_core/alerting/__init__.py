"""Alerting: incidents opened and resolved from check results, and notifications about them.

The alert state machine and the dispatcher are pure use cases; incidents and their pending
notifications are stored through ``IncidentRepository`` (an outbox: a transition and the
notifications it causes are stored in one transaction, then delivered off the check path by
``Notifier`` adapters with retries).
"""
