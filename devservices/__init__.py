"""Local, Docker-free Kafka, PostgreSQL and Alertmanager for tests, CI and benchmarks.

    from devservices import KafkaService, PostgresService

    with KafkaService() as kafka, PostgresService() as pg:
        use(kafka.bootstrap, pg.dsn)

``python -m devservices up`` runs both until Ctrl-C and prints the
SITEMON_KAFKA_BOOTSTRAP / SITEMON_PG_DSN exports; ``python -m devservices
fetch`` only downloads the Kafka jars into the cache.
"""

from devservices.alertmanager import AlertmanagerService
from devservices.fetch import KAFKA_VERSION, fetch_kafka, kafka_lib_dir
from devservices.kafka import KafkaService
from devservices.ports import free_port, free_ports
from devservices.postgres import PostgresService
from devservices.process import ServiceError

__all__ = [
    "KAFKA_VERSION",
    "AlertmanagerService",
    "KafkaService",
    "PostgresService",
    "ServiceError",
    "fetch_kafka",
    "free_port",
    "free_ports",
    "kafka_lib_dir",
]
