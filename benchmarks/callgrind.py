"""TensorFlow Lite Micro instructions per invoke, counted by valgrind's callgrind.

Wall-clock ratios of two files swing by tens of percent on a shared machine; an instruction count
does not. A worker process (numpy + tflite_micro only: Python under valgrind starts ~50x slower, and
TensorFlow would take minutes) loads the file, quantizes the model's golden samples with that file's
own input scale and zero point (zeros take shortcuts in some kernels and give misleading counts), and
invokes once for a warm-up, then once per sample. Callgrind collects only inside
`MicroInterpreter::Invoke()` (`--collect-atstart=no --toggle-collect`) and writes one profile after
each invoke (`--dump-after`, which also zeroes the counters), so every invoke is counted on its own.
The warm-up is dropped (a first invoke can do one-time work) and the rest are averaged.

    .venv/bin/python -m benchmarks.callgrind FILE.tflite golden_inputs.npz --samples 4   # per-invoke counts
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

INVOKE = "tflite::micro::MicroInterpreter::Invoke()"


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """A float sample in the file's input dtype: q = clip(round(x / scale) + zp) for integer inputs."""
    dtype = np.dtype(detail["dtype"])
    if not np.issubdtype(dtype, np.integer):
        return x.astype(dtype)
    q = detail["quantization_parameters"]
    scale, zero_point = float(np.ravel(q["scales"])[0]), int(np.ravel(q["zero_points"])[0])
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def worker(tflite: Path, golden: Path, samples: int) -> None:
    """Warm-up invoke on sample 0, then one invoke per sample (the first `samples`)."""
    from tflite_micro.python.tflite_micro import runtime

    data = tflite.read_bytes()
    interpreter = runtime.Interpreter.from_bytes(data, arena_size=4 * 2**20 + 10 * len(data))
    with np.load(golden) as npz:
        inputs = [npz[f"input_{k}"][:samples] for k in range(len(npz.files))]
    details = [interpreter.get_input_details(k) for k in range(len(inputs))]
    quantized = [_quantize(x, d) for x, d in zip(inputs, details)]
    for i in [0, *range(len(quantized[0]))]:
        for k, x in enumerate(quantized):
            interpreter.set_input(np.ascontiguousarray(x[i : i + 1]), k)
        interpreter.invoke()


def _ir(profile: Path) -> int:
    match = re.search(r"^(?:summary|totals):\s*(\d+)", profile.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no summary/totals line in callgrind output {profile.name}")
    return int(match.group(1))


def per_invoke_instructions(tflite: Path, golden: Path, samples: int = 8) -> list[int]:
    """Instructions of each invoke under callgrind, warm-up first, then one per sample."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("valgrind not found on PATH")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", "--collect-atstart=no",
                   f"--toggle-collect={INVOKE}", f"--dump-after={INVOKE}",
                   sys.executable, "-m", "benchmarks.callgrind", "--worker", str(tflite), str(golden),
                   "--samples", str(samples)]
        run = subprocess.run(command, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True)
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"callgrind worker exited {run.returncode}: {last[:120]}")
        # One dump per invoke (out.1, out.2, ...); `out` itself is the empty remainder at exit.
        dumps = sorted(Path(tmp).glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:]))
        counts = [_ir(p) for p in dumps]
    if not counts:
        raise RuntimeError(f"callgrind saw no call of {INVOKE}")
    return counts


def instructions_per_invoke(tflite: Path, golden: Path, samples: int = 8) -> float:
    """Mean TFLM instructions per invoke over the golden samples, the warm-up invoke excluded."""
    counts = per_invoke_instructions(tflite, golden, samples)
    if len(counts) < 2:
        raise RuntimeError(f"expected a warm-up and >= 1 sample invoke, callgrind counted {len(counts)}")
    return float(np.mean(counts[1:]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tflite", type=Path)
    parser.add_argument("golden", type=Path, help="golden_inputs.npz (input_0, input_1, ...: float samples)")
    parser.add_argument("--samples", type=int, default=8, help="golden samples to invoke on")
    parser.add_argument("--worker", action="store_true", help="just invoke (what runs under valgrind)")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.tflite, args.golden, args.samples)
        return
    counts = per_invoke_instructions(args.tflite.resolve(), args.golden.resolve(), args.samples)
    print("warm-up:", f"{counts[0]:,}")
    for i, n in enumerate(counts[1:]):
        print(f"sample {i}: {n:,}")
    print(f"mean over samples: {np.mean(counts[1:]):,.0f}")


if __name__ == "__main__":
    main()
