"""facemesh graph vs the Efinix reference file: median invoke time (batch 1) in LiteRT (default
kernels) and in TFLite Micro, ours / Efinix as ratios measured in one run, plus the op counts.

    .venv/bin/python -m benchmarks.facemesh_graph                          # build/facemesh/model.tflite
    .venv/bin/python -m benchmarks.facemesh_graph --ours a.tflite b.tflite  # several candidates
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from common.tflite import op_names
from common.cards import load_card
from common.weights import fetch

EFINIX_REFERENCE = load_card("facemesh").efinix_reference
TFLM_ARENA_BYTES = 8 * 1024 * 1024
PRELU_OPS = ("ADD", "MUL", "MAXIMUM", "MINIMUM", "RESHAPE")


def _input(shape, dtype) -> np.ndarray:
    return np.random.default_rng(0).integers(-128, 128, shape).astype(dtype)


def litert_invoke(path: Path) -> Callable[[], object]:
    """One LiteRT interpreter as `common.tflite.Runner` makes it (default kernels), one thread."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], _input(detail["shape"], detail["dtype"]))
    return interpreter.invoke


def tflm_invoke(path: Path) -> Callable[[], object]:
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_file(str(path), arena_size=TFLM_ARENA_BYTES)
    detail = interpreter.get_input_details(0)
    interpreter.set_input(_input(detail["shape"], detail["dtype"]), 0)

    def invoke():
        interpreter.invoke()
        return interpreter.get_output(0)

    return invoke


def interleaved_median_ms(invokes: list[Callable[[], object]], runs: int, warmup: int = 2) -> list[float]:
    """Median time of each invoke, measured round-robin so that machine load hits all alike."""
    for invoke in invokes:
        for _ in range(warmup):
            invoke()
    times: list[list[float]] = [[] for _ in invokes]
    for _ in range(runs):
        for k, invoke in enumerate(invokes):
            start = time.perf_counter()
            invoke()
            times[k].append((time.perf_counter() - start) * 1e3)
    return [statistics.median(t) for t in times]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ours", type=Path, nargs="+", default=[Path("build/facemesh/model.tflite")])
    parser.add_argument("--runs", type=int, default=30, help="timed invokes per model and runtime")
    args = parser.parse_args(argv)
    paths = [fetch(EFINIX_REFERENCE), *args.ours]
    lite = interleaved_median_ms([litert_invoke(p) for p in paths], args.runs)
    micro = interleaved_median_ms([tflm_invoke(p) for p in paths], args.runs)
    names = ["efinix " + paths[0].name, *map(str, args.ours)]
    print(f"median of {args.runs} invokes, batch 1, one thread; ratio = model / Efinix file (<= 1.00: as fast or faster)")
    print(f"| model | {' | '.join(PRELU_OPS)} | LiteRT ms | ratio | TFLM ms | ratio |")
    print("|---|" + "---|" * (len(PRELU_OPS) + 4))
    for name, path, lt, mc in zip(names, paths, lite, micro):
        counts = Counter(op_names(path))
        cells = " | ".join(str(counts.get(op, 0)) for op in PRELU_OPS)
        print(f"| {name} | {cells} | {lt:.2f} | {lt / lite[0]:.2f} | {mc:.2f} | {mc / micro[0]:.2f} |")


if __name__ == "__main__":
    main()
