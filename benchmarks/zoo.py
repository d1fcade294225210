"""Zoo benchmark: for every model, LiteRT int8 latency and TensorFlow Lite Micro invoke time of ours
vs the Efinix reference file (ratios), PTQ time, and the wall time of `make all`, in one run.
Ours and the reference are timed round-robin (one invocation of each in turn), so a ratio compares
the two files under the same machine load.

Even so, wall-clock ratios of the same two files swing from 0.97 to 1.31 on a shared 2-core machine,
so the table also gives TFLM instructions per invoke, counted by valgrind's callgrind inside
`MicroInterpreter::Invoke()` only (see `benchmarks/callgrind.py`), on the model's golden samples
quantized with each file's own input scale and zero point: a deterministic figure to compare files by.

    .venv/bin/python -m benchmarks.zoo                      # times a fresh `make all` into a temp build dir
    .venv/bin/python -m benchmarks.zoo --build build --skip-make   # reuse artifacts already built
    .venv/bin/python -m benchmarks.zoo --build build --skip-make --models face_detection --callgrind-samples 4
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.callgrind import instructions_per_invoke
from common.pipeline.recipe import all_recipes
from common.pipeline.references import fetch_file
from common.deploy.profile import interleaved_invoke_ms, litert_runner, tflm_runner

REPO = Path(__file__).resolve().parents[1]


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:40]}"


def efinix_file(name: str, make_runner) -> tuple[Path | None, str]:
    """The recipe's Efinix file if it loads with `make_runner`, else None and why."""
    recipe = all_recipes()[name]
    if recipe.efinix_reference is None:
        return None, "no Efinix file"
    try:
        reference = fetch_file(recipe, recipe.efinix_reference)
        make_runner(reference)
    except Exception as exc:  # e.g. the Efinix MobileNet file does not load in current LiteRT
        return None, _reason(exc)
    return reference, ""


def _instructions(tflite: Path, golden: Path, samples: int) -> tuple[float | None, str]:
    try:
        return instructions_per_invoke(tflite, golden, samples), ""
    except (RuntimeError, OSError, KeyError) as exc:  # no valgrind, a file TFLM rejects, ...
        return None, _reason(exc)


def paired_instructions(ours: Path, name: str, samples: int) -> tuple[float | None, float | None, str, str]:
    """TFLM instructions per invoke (callgrind) of our file and of the Efinix file on the model's golden
    samples; None and why for a count not made."""
    if samples <= 0:
        return None, None, "--callgrind-samples 0", "--callgrind-samples 0"
    golden = ours.parent / "golden_inputs.npz"
    if not golden.is_file():
        return None, None, "no golden_inputs.npz", "no golden_inputs.npz"
    ours_ir, why = _instructions(ours, golden, samples)
    reference, why_ref = efinix_file(name, tflm_runner)
    ref_ir, why_ref = _instructions(reference, golden, samples) if reference else (None, why_ref)
    return ours_ir, ref_ir, why, why_ref


def _mega(ir: float | None, why: str) -> str:
    return f"{ir / 1e6:.2f}" if ir else f"n/a ({why})"


def paired_ms(make_runner, ours: Path, name: str, runs: int, instances: int) -> tuple[float, float | None, str]:
    """Median invoke time of our file and of the recipe's Efinix file, measured round-robin on
    `instances` fresh pairs of interpreters (`runs` samples in all): where an interpreter's buffers
    land moves a microsecond model by several percent, even against a copy of itself. The reference
    time is None (and why) when there is no Efinix file or it does not load."""
    reference, why = efinix_file(name, make_runner)
    paths = [p for p in (ours, reference) if p is not None]
    per_instance = max(1, runs // instances)
    times: list[list[float]] = [[] for _ in paths]
    for k in range(instances):
        order = list(range(len(paths)))[::1 if k % 2 == 0 else -1]  # who gets memory first alternates too
        runners = {i: make_runner(paths[i]) for i in order}
        for i, ms in zip(order, interleaved_invoke_ms([runners[i] for i in order], per_instance)):
            times[i].append(ms)
    ours_ms = statistics.median(times[0])
    ref_ms = statistics.median(times[1]) if reference is not None else None
    return ours_ms, ref_ms, why


def _ratio(ours: float, ref: float | None, digits: int = 2) -> str:
    return f"{ours / ref:.{digits}f}" if ref else "n/a"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, help="build dir (default: a fresh temp dir that `make all` fills)")
    parser.add_argument("--skip-make", action="store_true", help="do not run `make all`; read --build as is")
    parser.add_argument("--runs", type=int, default=400, help="LiteRT timing samples per model (>= 2 ms each)")
    parser.add_argument("--tflm-runs", type=int, default=60, help="TFLM timing samples per model")
    parser.add_argument("--instances", type=int, default=12,
                        help="fresh interpreter pairs the samples are spread over (the median is reported)")
    parser.add_argument("--callgrind-samples", type=int, default=8,
                        help="golden samples TFLM instructions are counted on under callgrind (0: skip)")
    parser.add_argument("--models", nargs="+", metavar="MODEL", help="models to benchmark (default: all)")
    args = parser.parse_args(argv)
    if args.skip_make and args.build is None:
        parser.error("--skip-make needs --build")
    unknown = sorted(set(args.models or []) - set(all_recipes()))
    if unknown:
        parser.error(f"unknown models {unknown}; known: {sorted(all_recipes())}")

    with tempfile.TemporaryDirectory() as tmp:
        build = args.build or Path(tmp)
        make_seconds = None
        if not args.skip_make:
            start = time.perf_counter()
            subprocess.run(["make", f"BUILD={build}", "all"], cwd=REPO, check=True)
            make_seconds = time.perf_counter() - start
        rows = []
        for name in args.models or all_recipes():
            tflite = build / name / "model.tflite"
            if not tflite.is_file():
                rows.append((name, "not built", *[""] * 10))
                continue
            quant = tflite.with_suffix(".quant.json")
            ptq = json.loads(quant.read_text()).get("ptq_seconds") if quant.is_file() else None
            ours, ref, why = paired_ms(litert_runner, tflite, name, args.runs, args.instances)
            ours_tflm, ref_tflm, why_tflm = paired_ms(tflm_runner, tflite, name, args.tflm_runs, args.instances)
            ours_ir, ref_ir, why_ir, why_ref_ir = paired_instructions(tflite, name, args.callgrind_samples)
            rows.append((name, f"{ours:.3f}", f"{ref:.3f}" if ref else f"n/a ({why})", _ratio(ours, ref),
                         f"{ours_tflm:.2f}", f"{ref_tflm:.2f}" if ref_tflm else f"n/a ({why_tflm})",
                         _ratio(ours_tflm, ref_tflm), _mega(ours_ir, why_ir), _mega(ref_ir, why_ref_ir),
                         _ratio(ours_ir, ref_ir, 3) if ours_ir else "n/a", f"{ptq:.1f}" if ptq is not None else "n/a",
                         f"{tflite.stat().st_size:,}"))

    header = ("model", "LiteRT ours (ms)", "LiteRT Efinix (ms)", "ratio", "TFLM ours (ms)", "TFLM Efinix (ms)",
              "ratio", "TFLM instr ours (M)", "TFLM instr Efinix (M)", "instr ratio", "PTQ (s)", "size (B)")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
    print("\nMedian batch-1 invocation on this CPU, ours and the Efinix file in turn: LiteRT default kernels "
          "(1 thread) and TensorFlow Lite Micro (reference kernels, the closest proxy for microcontroller cycles); "
          "TFLM instr = millions of instructions per TFLM invoke under callgrind, mean over golden samples "
          f"({args.callgrind_samples} per file, after a warm-up invoke); ratio = ours / Efinix file")
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    print(f"\nmake all wall time: {make_seconds:.0f} s" if make_seconds is not None else "\nmake all: not run (--skip-make)")


if __name__ == "__main__":
    main()
