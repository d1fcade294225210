"""Zoo benchmark: for every model, LiteRT int8 latency of ours vs the Efinix reference file (ratio),
PTQ time, and the wall time of `make all`, in one run.

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

from common.profile import latency_ms
from common.weights import fetch

REPO = Path(__file__).resolve().parents[1]
MODELS = ("resnet_cifar", "dscnn_kws", "autoencoder", "mobilenet_vww", "yolo", "facemesh")
EFINIX_REFERENCE = {
    "resnet_cifar": "efinix_resnet",
    "dscnn_kws": "efinix_dscnn",
    "autoencoder": "efinix_autoencoder",
    "mobilenet_vww": "efinix_mobilenet",
    "yolo": "efinix_yolo",
    "facemesh": "efinix_face_landmark",
}


def reference_latency(name: str, runs: int) -> tuple[float | None, str]:
    try:
        return latency_ms(fetch(EFINIX_REFERENCE[name]), runs=runs), ""
    except Exception as exc:  # e.g. the Efinix MobileNet file does not load in current LiteRT
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:60]}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, help="build dir (default: a fresh temp dir that `make all` fills)")
    parser.add_argument("--skip-make", action="store_true", help="do not run `make all`; read --build as is")
    parser.add_argument("--runs", type=int, default=200, help="latency repetitions per model")
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
        for name in MODELS:
            tflite = build / name / "model.tflite"
            if not tflite.is_file():
                rows.append((name, "not built", "", "", "", ""))
                continue
            quant = tflite.with_suffix(".quant.json")
            ptq = json.loads(quant.read_text()).get("ptq_seconds") if quant.is_file() else None
            ours = latency_ms(tflite, runs=args.runs)
            ref, why = reference_latency(name, args.runs)
            rows.append((name, f"{ours:.3f}", f"{ref:.3f}" if ref else f"n/a ({why})",
                         f"{ours / ref:.2f}" if ref else "n/a", f"{ptq:.1f}" if ptq is not None else "n/a",
                         f"{tflite.stat().st_size:,}"))

    header = ("model", "ours int8 (ms)", "Efinix ref (ms)", "ours/ref", "PTQ (s)", "size (B)")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
    print("\nLiteRT latency: median of batch-1 invocations, 1 thread, this CPU")
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    print(f"\nmake all wall time: {make_seconds:.0f} s" if make_seconds is not None else "\nmake all: not run (--skip-make)")


if __name__ == "__main__":
    main()
