"""Deployment kit for one model: the `.tflite` as a C array (TFLM conventions), golden int8 vectors
for bit-exactness checks on the target, the accelerator coverage report and the profile.

    python -m common.deploy.kit --tflite build/resnet_cifar/model.tflite --name resnet_cifar \\
        --golden build/resnet_cifar/golden_inputs.npz --float-model build/resnet_cifar/model.keras --out build/resnet_cifar
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from common.atomic import atomic_path, json_text
from common.cli import ArgumentParser, positive_int
from common.graph.tflite import EFINIX_ACCELERATED_OPS, list_ops
from common.graph.runners import TFLMRunner

BYTES_PER_LINE = 12


def c_identifier(name: str) -> str:
    ident = re.sub(r"\W", "_", name)
    return f"_{ident}" if ident[:1].isdigit() else ident


def _guard(filename: str) -> str:
    return re.sub(r"\W", "_", filename).upper() + "_"


def _format_values(values: np.ndarray, fmt: str) -> str:
    flat = [fmt.format(int(v)) for v in np.asarray(values).reshape(-1)]
    return "\n".join("  " + ", ".join(flat[i : i + BYTES_PER_LINE]) + "," for i in range(0, len(flat), BYTES_PER_LINE))


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def write_kit(out_dir: str | os.PathLike, files: dict[str, str | bytes], last: str | None = None) -> list[Path]:
    """Write every file of a kit, all or none: each goes to a temp file beside its target, and only
    when all are written are they renamed into place (`last`, the file Make watches, at the very end:
    an ExitStack commits in reverse order)."""
    import contextlib

    out_dir = Path(out_dir)
    order = sorted(files, key=lambda f: f != last)
    with contextlib.ExitStack() as stack:
        for filename in order:
            tmp = stack.enter_context(atomic_path(out_dir / filename))
            content = files[filename]
            tmp.write_bytes(content.encode() if isinstance(content, str) else content)
    return [out_dir / f for f in files]


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def write_c_array(tflite_path: str | os.PathLike, out_dir: str | os.PathLike, name: str,
                  symbol_prefix: str = "g_") -> tuple[Path, Path]:
    """`<name>_model_data.h/.cc`: a 16-byte aligned `const unsigned char` array and its length, named
    `<symbol_prefix><name>_model_data[_len]` (TFLM's `g_`; "" for the Efinix generator's names)."""
    header, source = write_kit(out_dir, c_array_files(tflite_path, name, symbol_prefix))
    return header, source


def c_array_files(tflite_path: str | os.PathLike, name: str, symbol_prefix: str = "g_") -> dict[str, str]:
    """The contents of `<name>_model_data.h` and `.cc` (see `write_c_array`)."""
    data = np.frombuffer(Path(tflite_path).read_bytes(), dtype=np.uint8)
    ident = c_identifier(name)
    header_name = f"{name}_model_data.h"
    guard = _guard(header_name)
    header = (
        f"// {Path(tflite_path).name} for TensorFlow Lite Micro / the Efinix TinyML Generator. Generated file.\n"
        f"#ifndef {guard}\n#define {guard}\n\n"
        f"extern const unsigned char {symbol_prefix}{ident}_model_data[];\n"
        f"extern const unsigned int {symbol_prefix}{ident}_model_data_len;\n\n"
        f"#endif  // {guard}\n"
    )
    source = (
        f"// {Path(tflite_path).name}: {len(data)} bytes. Generated file.\n"
        f'#include "{header_name}"\n\n'
        "// TFLM requires the flatbuffer to be 16-byte aligned.\n"
        f"alignas(16) const unsigned char {symbol_prefix}{ident}_model_data[] = {{\n"
        f"{_format_values(data, '0x{:02x}')}\n}};\n"
        f"const unsigned int {symbol_prefix}{ident}_model_data_len = {len(data)};\n"
    )
    return {header_name: header, f"{name}_model_data.cc": source}


def _c_array_decl(ident: str, array: np.ndarray, ctype: str) -> str:
    dims = "".join(f"[{d}]" for d in array.shape)
    return f"const {ctype} {ident}{dims} = {{\n{_format_values(array, '{:d}')}\n}};\n"


def _c_header(filename: str, comment: str, body: str) -> str:
    guard = _guard(filename)
    return f"// {comment} Generated file.\n#ifndef {guard}\n#define {guard}\n\n#include <stdint.h>\n\n{body}\n#endif  // {guard}\n"


def write_golden_vectors(
    tflite_path: str | os.PathLike, inputs: Sequence[np.ndarray], out_dir: str | os.PathLike, name: str
) -> dict[str, Any]:
    """Golden vectors of real samples (see `golden_files`), written as C headers and `.npy`."""
    files, info = golden_files(tflite_path, inputs, name)
    write_kit(out_dir, files)
    return {k: [str(Path(out_dir) / f) for f in v] if isinstance(v, list) else
            (str(Path(out_dir) / v) if k.endswith("header") else v) for k, v in info.items()}


def golden_files(tflite_path: str | os.PathLike, inputs: Sequence[np.ndarray], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Quantize real float samples exactly as the runners do, run them through TensorFlow Lite
    Micro one at a time (batch 1, as on the target): int8 inputs and outputs as C headers and `.npy`
    contents (the outputs are what TFLM on the device must reproduce bit for bit), and an index."""
    runner = TFLMRunner(tflite_path)
    q_inputs = [runner.quantize(x, d) for x, d in zip(inputs, runner.inputs)]
    n = len(q_inputs[0])
    q_outputs = runner.run_quantized(q_inputs)

    ident = c_identifier(name)
    files: dict[str, Any] = {}
    info: dict[str, Any] = {"n": n, "inputs": [], "outputs": []}
    for kind, arrays, details in (("input", q_inputs, runner.inputs), ("output", q_outputs, runner.outputs)):
        body = f"#define QUANT_{ident.upper()}_{kind.upper()}_COUNT {n}\n\n"
        for k, (array, d) in enumerate(zip(arrays, details)):
            suffix = "" if len(arrays) == 1 else f"_{k}"
            scale, zero_point = d["quantization"]
            body += f"// scale {scale!r}, zero point {zero_point}, shape {list(array.shape)}\n"
            body += _c_array_decl(f"quant_{ident}_{kind}{suffix}", array, "int8_t" if array.dtype == np.int8 else "int32_t")
            npy = f"golden_{kind}{suffix}.npy"
            files[npy] = _npy_bytes(array)
            info[f"{kind}s"].append(npy)
        header = f"quant_{name}_{kind}.h"
        what = "int8 inputs exactly as the runner quantizes them" if kind == "input" else "expected int8 outputs from TensorFlow Lite Micro"
        files[header] = _c_header(header, f"{name}: {n} golden samples, {what}.", body)
        info[f"{kind}_header"] = header
    return files, info


def read_golden_inputs(golden: str | os.PathLike, tflite_path: str | os.PathLike, n: int) -> list[np.ndarray]:
    """The first `n` samples of a `golden_inputs.npz`, refused unless they fit the model's inputs."""
    from common.graph.runners import Runner

    golden = Path(golden)
    if not golden.is_file():
        raise FileNotFoundError(f"no golden inputs file at {golden} (written by `make <model>.tflite`)")
    try:
        with np.load(golden) as saved:
            keys = sorted(saved.files, key=lambda s: int(s.split("_")[-1]))
            inputs = [np.asarray(saved[k][:n]) for k in keys]
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{golden} is not a golden_inputs.npz ({exc})") from exc
    expected = [tuple(int(v) for v in d["shape"][1:]) for d in Runner(tflite_path).inputs]
    got = [tuple(x.shape[1:]) for x in inputs]
    if got != expected:
        raise ValueError(f"{golden} holds samples of shape {got}, but {Path(tflite_path).name} takes {expected}: "
                         "golden inputs of another model?")
    if not inputs or len(inputs[0]) == 0:
        raise ValueError(f"{golden} holds no samples")
    return inputs


def accelerator_report(tflite_path: str | os.PathLike, name: str) -> tuple[dict, str]:
    """Every op with its count and where it runs (Efinix accelerator or CPU), as JSON and Markdown."""
    ops = list_ops(tflite_path)
    total = sum(o["count"] for o in ops)
    accelerated = sum(o["count"] for o in ops if o["accelerated"])
    lines = [f"# {name}: accelerator coverage", "",
             f"{accelerated} of {total} ops ({accelerated / max(total, 1):.0%}) run on the Efinix accelerator "
             f"({', '.join(sorted(EFINIX_ACCELERATED_OPS))}).", "",
             "| op | count | runs on |", "|---|---|---|"]
    lines += [f"| {o['op']} | {o['count']} | {'accelerator' if o['accelerated'] else 'CPU'} |" for o in ops]
    return {"ops": ops, "total": total, "accelerated": accelerated,
            "accelerated_fraction": accelerated / max(total, 1)}, "\n".join(lines) + "\n"


def deploy(
    tflite_path: str | os.PathLike,
    name: str,
    out_dir: str | os.PathLike,
    golden: str | os.PathLike | None = None,
    float_model: str | os.PathLike | None = None,
    golden_n: int = 8,
    latency_runs: int = 100,
) -> dict[str, Any]:
    """Check every input, compute the whole kit, then write it all or nothing (`write_kit`)."""
    from common.deploy.profile import latency_ms, profile_tflite, tflm_invoke_ms
    from common.graph.runners import Runner, tflm_arena_bytes, tflm_recorded_arena_bytes

    if golden_n < 1 or latency_runs < 1:
        raise ValueError(f"golden_n and latency_runs must be >= 1 (got {golden_n}, {latency_runs})")
    if not c_identifier(name).isidentifier():
        raise ValueError(f"--name {name!r} does not make a C identifier")
    Runner(tflite_path)  # a missing or non-tflite file is refused here, before anything is written
    inputs = read_golden_inputs(golden, tflite_path, golden_n) if golden else None

    out_dir = Path(out_dir)
    files: dict[str, Any] = dict(c_array_files(tflite_path, name))
    result: dict[str, Any] = {"c_header": str(out_dir / f"{name}_model_data.h"),
                              "c_source": str(out_dir / f"{name}_model_data.cc")}
    if inputs is not None:
        golden_contents, info = golden_files(tflite_path, inputs, name)
        files.update(golden_contents)
        result["golden"] = info
    accel, markdown = accelerator_report(tflite_path, name)
    profile = profile_tflite(tflite_path)
    profile["tflm_recorded_allocation_bytes"] = tflm_recorded_arena_bytes(tflite_path)
    profile["tflm_arena_bytes"] = tflm_arena_bytes(tflite_path, profile["tflm_recorded_allocation_bytes"])
    profile["latency_ms"] = latency_ms(tflite_path, runs=latency_runs)
    profile["tflm_invoke_ms"] = tflm_invoke_ms(tflite_path, runs=max(1, min(latency_runs, 20)))
    if float_model:
        from common.graph.keras_io import load_model

        profile["params"] = int(load_model(float_model).count_params())
    files["accelerator.json"] = json_text(accel)
    files["accelerator.md"] = markdown
    files["profile.json"] = json_text(profile)
    write_kit(out_dir, files, last=f"{name}_model_data.cc")
    result.update({"accelerator": accel, "profile": {k: v for k, v in profile.items() if k != "layers"}})
    return result


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--tflite", required=True)
    parser.add_argument("--name", required=True, help="C identifier stem, e.g. resnet_cifar")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--golden", help="golden_inputs.npz written by validation (float, preprocessed)")
    parser.add_argument("--golden-n", type=positive_int, default=8, help="golden samples (default 8)")
    parser.add_argument("--float-model", help=".keras model, for the parameter count")
    parser.add_argument("--latency-runs", type=positive_int, default=100, help="LiteRT latency repetitions")
    args = parser.parse_args(argv)
    result = deploy(args.tflite, args.name, args.out, args.golden, args.float_model, args.golden_n, args.latency_runs)
    print(f"{args.name}: {result['c_source']}, accelerator {result['accelerator']['accelerated']}/"
          f"{result['accelerator']['total']} ops, {result['profile']['macs']:,} MACs, "
          f"TFLM arena {result['profile']['tflm_arena_bytes']:,} B, "
          f"{result['profile']['latency_ms']:.3f} ms")


if __name__ == "__main__":
    from common.cli import run

    run(main)
