"""Kafka adapters (aiokafka): the results publisher, the persister's subscriber, topics,
the site catalogue.

The driver loads on first use of a name that needs it, so the configuration loader can
use ``connection.KafkaConnection`` (plain settings) without loading aiokafka.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sitemon_adapters.bus.kafka.connection import KafkaConnection

if TYPE_CHECKING:
    from sitemon_adapters.bus.kafka.admin import ensure_topics
    from sitemon_adapters.bus.kafka.catalogue import CatalogueStats, KafkaSiteCatalogue
    from sitemon_adapters.bus.kafka.catalogue_editor import KafkaCatalogueEditor
    from sitemon_adapters.bus.kafka.publisher import KafkaStatusPublisher, PublisherStats
    from sitemon_adapters.bus.kafka.subscriber import KafkaStatusSubscriber, SubscriberStats

_LAZY = {
    "ensure_topics": "admin",
    "CatalogueStats": "catalogue",
    "KafkaSiteCatalogue": "catalogue",
    "KafkaCatalogueEditor": "catalogue_editor",
    "KafkaStatusPublisher": "publisher",
    "PublisherStats": "publisher",
    "KafkaStatusSubscriber": "subscriber",
    "SubscriberStats": "subscriber",
}


def __getattr__(name: str) -> Any:
    """The driver-backed names, imported when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "CatalogueStats",
    "KafkaCatalogueEditor",
    "KafkaConnection",
    "KafkaSiteCatalogue",
    "KafkaStatusPublisher",
    "KafkaStatusSubscriber",
    "PublisherStats",
    "SubscriberStats",
    "ensure_topics",
]
