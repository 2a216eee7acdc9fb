"""The top entries of a py-spy raw profile (``py-spy record -f raw``), as Markdown.

    python -m benchmarks.profile_top out.txt [--top 15] [--match sitemon_]

Prints two tables: functions by *self* samples (where the CPU is spent) and, among frames
whose file matches ``--match``, by *inclusive* samples (what sitemon's own code costs,
callees included), each as a share of every sample.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['func']} ({path})"


def read(path: Path) -> list[tuple[list[str], int]]:
    """(frames root first, samples) of every stack line."""
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append(([_short(f) for f in stack.split(";")], int(count)))
    return stacks


def tops(
    stacks: list[tuple[list[str], int]], match: str, top: int
) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """Total samples, the top self entries, the top inclusive entries matching ``match``."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for frames, count in stacks:
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            if match in frame:
                inclusive[frame] += count
    return total, own.most_common(top), inclusive.most_common(top)


def main() -> None:
    """Print the two tables."""
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--match", default="sitemon_")
    args = parser.parse_args()
    total, own, inclusive = tops(read(args.profile), args.match, args.top)
    print(f"{total} samples\n\n| self | function |\n|---|---|")
    for name, count in own:
        print(f"| {count / total:.1%} | `{name}` |")
    print(f"\n| inclusive | function ({args.match}) |\n|---|---|")
    for name, count in inclusive:
        print(f"| {count / total:.1%} | `{name}` |")


if __name__ == "__main__":
    main()
