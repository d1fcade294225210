"""Timing helpers for the benchmark scripts (benchmarks, not tests: numbers vary with the machine)."""
from __future__ import annotations

import time
from typing import Callable

from common.deploy.profile import latency_ms  # noqa: F401  (re-exported for the benchmark scripts)


def wall_seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def print_table(rows: list[tuple[str, str]], title: str) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}\n" + "-" * (width + 24))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
