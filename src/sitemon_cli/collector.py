"""The garbage collector tuned for a process that turns a stream of records into rows.

A persister holds a few batches of thousands of results at a time. With CPython's default
thresholds every 700 new container objects start a young collection that walks the whole
batch in hand (alive, so all promoted and walked again by the older generations), and each
older collection walks everything start-up loaded (config, modules, the driver's state):
≈ 8 µs of the consumer's ≈ 40 µs per row went to the collector. After start-up, freezing
moves what exists into a permanent generation no collection walks, and a larger young
threshold lets most of a batch die by reference counting (saved, then dropped) before any
collection sees it. Cycles are still collected, only less often.
"""

from __future__ import annotations

import gc

# Young collections: one per this many new container objects instead of 700 (a batch of
# 5,000 results makes ≈ 30,000: roughly one collection per batch or two).
YOUNG_THRESHOLD = 50_000


def tune_for_batches(young_threshold: int = YOUNG_THRESHOLD) -> None:
    """Freeze what start-up made and raise the young generation's threshold; call once,
    after the process's parts are built, before its loop runs."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, older, oldest)
