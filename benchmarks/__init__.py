"""sitemon's benchmark harness: ``python -m benchmarks [--quick] [scenario ...]``.

Each scenario drives the real use cases and adapters against local targets (an nginx
"farm", a devservices Kafka and PostgreSQL, Prometheus blackbox_exporter as the peer),
prints a table and writes ``bench-results/<scenario>.json``. See BENCHMARKS.md.
"""
