"""The root of sitemon's exceptions and the few kinds the core branches on.

Like aiokafka, errors carry a ``retriable`` flag so callers branch on a property instead
of on lists of driver exception types (the core never sees a driver exception).
"""

from __future__ import annotations


class SitemonError(Exception):
    """Root of every error sitemon raises on purpose."""

    retriable: bool = False


class ConfigError(SitemonError):
    """A configuration file is invalid; the message names the file, key path and problem."""

    def __init__(self, source: str, key_path: str, problem: str) -> None:
        self.source = source
        self.key_path = key_path
        self.problem = problem
        super().__init__(f"{source}: {key_path}: {problem}")


class PublishError(SitemonError):
    """A result could not be handed to the bus (buffer full, broker unreachable...)."""


class RepositoryError(SitemonError):
    """The repository could not save or read; ``retriable`` says whether to try again."""

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


class SubscriberError(SitemonError):
    """The subscriber could not receive or acknowledge a batch."""

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable
