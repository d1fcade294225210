"""facemesh graph vs the Efinix reference file: median invoke time (batch 1) in LiteRT (default
kernels) and in TFLite Micro, ours / Efinix as ratios measured in one run, plus the op counts.

    .venv/bin/python -m benchmarks.facemesh_graph                          # build/facemesh/model.tflite
    .venv/bin/python -m benchmarks.facemesh_graph --ours a.tflite b.tflite  # several candidates
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from common.deploy.profile import interleaved_invoke_ms, litert_runner, tflm_runner
from common.graph.tflite import op_names
from common.pipeline.recipe import load_recipe
from common.pipeline.references import fetch_file

RECIPE = load_recipe("facemesh")
PRELU_OPS = ("ADD", "MUL", "MAXIMUM", "MINIMUM", "PAD", "CONCATENATION", "RESHAPE")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ours", type=Path, nargs="+", default=[Path("build/facemesh/model.tflite")])
    parser.add_argument("--runs", type=int, default=30, help="timed invokes per model and runtime")
    args = parser.parse_args(argv)
    paths = [fetch_file(RECIPE, RECIPE.efinix_reference), *args.ours]
    lite = interleaved_invoke_ms([litert_runner(p) for p in paths], args.runs)
    micro = interleaved_invoke_ms([tflm_runner(p) for p in paths], args.runs)
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
