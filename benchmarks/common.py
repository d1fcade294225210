"""Timing helpers for the benchmark scripts (benchmarks, not tests: numbers vary with the machine)."""
from __future__ import annotations

import os
import statistics
import time
from typing import Callable

import numpy as np


def latency_ms(tflite_path: str | os.PathLike, runs: int = 300, warmup: int = 20, threads: int = 1) -> float:
    """Median LiteRT latency of one batch-1 int8 invocation, in milliseconds."""
    from common.tflite import Runner

    runner = Runner(tflite_path, num_threads=threads)
    rng = np.random.default_rng(0)
    inputs = [rng.integers(-128, 128, size=[1, *d["shape"][1:]], dtype=np.int64).astype(d["dtype"])
              for d in runner.inputs]
    for _ in range(warmup):
        runner.run_quantized(inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner.run_quantized(inputs)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def wall_seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def print_table(rows: list[tuple[str, str]], title: str) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}\n" + "-" * (width + 24))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
