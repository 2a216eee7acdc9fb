"""Kafka adapters (aiokafka): the results publisher, the persister's subscriber, topics."""

from sitemon_adapters.bus.kafka.admin import ensure_topics
from sitemon_adapters.bus.kafka.connection import KafkaConnection
from sitemon_adapters.bus.kafka.publisher import KafkaStatusPublisher, PublisherStats
from sitemon_adapters.bus.kafka.subscriber import KafkaStatusSubscriber, SubscriberStats

__all__ = [
    "KafkaConnection",
    "KafkaStatusPublisher",
    "KafkaStatusSubscriber",
    "PublisherStats",
    "SubscriberStats",
    "ensure_topics",
]
