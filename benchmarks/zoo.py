"""Zoo benchmark: for every model, LiteRT int8 latency and TensorFlow Lite Micro invoke time of ours
vs the Efinix reference file (ratios), PTQ time, and the wall time of `make all`, in one run.

    .venv/bin/python -m benchmarks.zoo                      # times a fresh `make all` into a temp build dir
    .venv/bin/python -m benchmarks.zoo --build build --skip-make   # reuse artifacts already built
"""
from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from common.cards import all_cards, resolve_reference
from common.profile import latency_ms, tflm_invoke_ms

REPO = Path(__file__).resolve().parents[1]


def reference_time(measure, name: str, runs: int) -> tuple[float | None, str]:
    """`measure` of the model card's Efinix reference file, or None and why not."""
    efinix = all_cards()[name].efinix_reference
    if efinix is None:
        return None, "no Efinix file"
    try:
        return measure(resolve_reference(efinix), runs=runs), ""
    except Exception as exc:  # e.g. the Efinix MobileNet file does not load in current LiteRT
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:40]}"


def _ratio(ours: float, ref: float | None) -> str:
    return f"{ours / ref:.2f}" if ref else "n/a"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, help="build dir (default: a fresh temp dir that `make all` fills)")
    parser.add_argument("--skip-make", action="store_true", help="do not run `make all`; read --build as is")
    parser.add_argument("--runs", type=int, default=200, help="LiteRT latency repetitions per model")
    parser.add_argument("--tflm-runs", type=int, default=20, help="TFLM invoke repetitions per model")
    args = parser.parse_args(argv)
    if args.skip_make and args.build is None:
        parser.error("--skip-make needs --build")

    with tempfile.TemporaryDirectory() as tmp:
        build = args.build or Path(tmp)
        make_seconds = None
        if not args.skip_make:
            start = time.perf_counter()
            subprocess.run(["make", f"BUILD={build}", "all"], cwd=REPO, check=True)
            make_seconds = time.perf_counter() - start
        rows = []
        for name in all_cards():
            tflite = build / name / "model.tflite"
            if not tflite.is_file():
                rows.append((name, "not built", "", "", "", "", "", "", ""))
                continue
            quant = tflite.with_suffix(".quant.json")
            ptq = json.loads(quant.read_text()).get("ptq_seconds") if quant.is_file() else None
            ours = latency_ms(tflite, runs=args.runs)
            ref, why = reference_time(latency_ms, name, args.runs)
            ours_tflm = tflm_invoke_ms(tflite, runs=args.tflm_runs)
            ref_tflm, why_tflm = reference_time(tflm_invoke_ms, name, args.tflm_runs)
            rows.append((name, f"{ours:.3f}", f"{ref:.3f}" if ref else f"n/a ({why})", _ratio(ours, ref),
                         f"{ours_tflm:.2f}", f"{ref_tflm:.2f}" if ref_tflm else f"n/a ({why_tflm})",
                         _ratio(ours_tflm, ref_tflm), f"{ptq:.1f}" if ptq is not None else "n/a",
                         f"{tflite.stat().st_size:,}"))

    header = ("model", "LiteRT ours (ms)", "LiteRT Efinix (ms)", "ratio", "TFLM ours (ms)", "TFLM Efinix (ms)",
              "ratio", "PTQ (s)", "size (B)")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
    print("\nMedian batch-1 invocation on this CPU: LiteRT default kernels (1 thread) and TensorFlow Lite Micro "
          "(reference kernels, the closest proxy for microcontroller cycles); ratio = ours / Efinix file")
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    print(f"\nmake all wall time: {make_seconds:.0f} s" if make_seconds is not None else "\nmake all: not run (--skip-make)")


if __name__ == "__main__":
    main()
