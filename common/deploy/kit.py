"""Deployment kit for one model: the `.tflite` as a C array (TFLM conventions), golden int8 vectors
for bit-exactness checks on the target, the accelerator coverage report and the profile.

    python -m common.deploy.kit --tflite build/resnet_cifar/model.tflite --name resnet_cifar \\
        --golden build/resnet_cifar/golden_inputs.npz --float-model build/resnet_cifar/model.keras --out build/resnet_cifar/kit

--out is the kit's own folder: it is written whole into a temp folder and swapped in at once (a kill
leaves the old kit or the new one, never a mix); an existing folder is replaced only if it holds
nothing but kit files.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from common.atomic import atomic_dir, atomic_files, check_replaceable_dir, json_text
from common.cli import ArgumentParser, output_dir, positive_int
from common.errors import UserError
from common.graph.tflite import EFINIX_ACCELERATED_OPS, list_ops
from common.graph.runners import TFLMRunner

BYTES_PER_LINE = 12
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
KIT_FILES = re.compile(r".+_model_data\.(cc|h)|quant_.+_(input|output)\.h|golden_(input|output)(_\d+)?\.npy|"
                       r"accelerator\.(json|md)|profile\.json")


def check_name(name: str) -> str:
    """A --name names files inside --out and C symbols: letters, digits, `_`, `.`, `-` only (no `/`,
    no `..`), so that nothing is written outside the output folder."""
    if not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise UserError(f"--name {name!r}: use letters, digits and _ . - only (it names the files inside --out "
                        "and the C symbols)")
    return name


def c_identifier(name: str) -> str:
    ident = re.sub(r"\W", "_", name)
    return f"_{ident}" if ident[:1].isdigit() else ident


def _guard(filename: str) -> str:
    return re.sub(r"\W", "_", filename).upper() + "_"


def _format_values(values: np.ndarray, fmt: str) -> str:
    flat = [fmt.format(int(v)) for v in np.asarray(values).reshape(-1)]
    return "\n".join("  " + ", ".join(flat[i : i + BYTES_PER_LINE]) + "," for i in range(0, len(flat), BYTES_PER_LINE))


def _content(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def write_files(out_dir: str | os.PathLike, files: dict[str, str | bytes]) -> list[Path]:
    """Write some files into an existing folder of other files, all or none (each to a temp file
    first, renamed when all are written)."""
    paths = [Path(out_dir) / f for f in files]
    with atomic_files(paths) as tmps:
        for tmp, content in zip(tmps, files.values()):
            tmp.write_bytes(_content(content))
    return paths


def write_folder(out_dir: str | os.PathLike, files: dict[str, str | bytes], owned=lambda p: False,
                 keep_unchanged_times: bool = False) -> list[Path]:
    """Write the folder `out_dir` with exactly `files`, swapped in whole (`common.atomic.atomic_dir`);
    `keep_unchanged_times`: a file whose bytes did not change keeps its old timestamp."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir, owned=owned) as tmp:
        for filename, content in files.items():
            data = _content(content)
            (tmp / filename).parent.mkdir(parents=True, exist_ok=True)  # "core0/x.v": a sub-folder
            (tmp / filename).write_bytes(data)
            old = out_dir / filename
            if keep_unchanged_times and old.is_file() and old.read_bytes() == data:
                st = old.stat()
                os.utime(tmp / filename, ns=(st.st_atime_ns, st.st_mtime_ns))
    return [out_dir / f for f in files]


def is_kit_file(path: Path) -> bool:
    return path.is_file() and bool(KIT_FILES.fullmatch(path.name))


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def write_c_array(tflite_path: str | os.PathLike, out_dir: str | os.PathLike, name: str,
                  symbol_prefix: str = "g_") -> tuple[Path, Path]:
    """`<name>_model_data.h/.cc`: a 16-byte aligned `const unsigned char` array and its length, named
    `<symbol_prefix><name>_model_data[_len]` (TFLM's `g_`; "" for the Efinix generator's names)."""
    header, source = write_files(out_dir, c_array_files(tflite_path, name, symbol_prefix))
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
    write_files(out_dir, files)
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
    """Check every input, compute the whole kit, then write the folder `out_dir` all or nothing
    (`write_folder`: a kill at any instant leaves the old kit or the new one)."""
    from common.deploy.profile import latency_ms, profile_tflite, tflm_invoke_ms
    from common.graph.runners import Runner, tflm_arena_bytes, tflm_recorded_arena_bytes

    if golden_n < 1 or latency_runs < 1:
        raise ValueError(f"golden_n and latency_runs must be >= 1 (got {golden_n}, {latency_runs})")
    check_name(name)
    out_dir = Path(out_dir)
    check_replaceable_dir(out_dir, owned=is_kit_file)  # before the work, not after it
    Runner(tflite_path)  # a missing or non-tflite file is refused here, before anything is written
    inputs = read_golden_inputs(golden, tflite_path, golden_n) if golden else None

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
    write_folder(out_dir, files, owned=is_kit_file)
    result.update({"accelerator": accel, "profile": {k: v for k, v in profile.items() if k != "layers"}})
    return result


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--tflite", required=True)
    parser.add_argument("--name", required=True, help="C identifier stem, e.g. resnet_cifar (letters, digits, _ . -)")
    parser.add_argument("--out", required=True, type=output_dir,
                        help="the kit's folder (new, or one holding only kit files: it is replaced whole)")
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
