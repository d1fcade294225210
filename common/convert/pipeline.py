"""Convert the user's model: load (any supported format) -> read the data folder and split it (seeded;
calibration and scoring never share a file) -> float check against the source runtime (ONNX) ->
full-int8 conversion with the zoo's checks (every violation of the target listed at once, nothing
written) -> `model.tflite` + `.quant.json` -> float vs int8 under TFLM on the held-out files ->
`report.json`, deployment kit, Efinix generator output (with EFINIX_TFLITE_BIN), REPORT.md row."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.convert.data import Normalization, read_folder, split_items
from common.errors import ConversionError, QuantizationError

FLOAT_CHECK_ITEMS = 16
FLOAT_CHECK_TOLERANCE = 1e-3  # max |keras - source runtime| relative to the output's range
GOLDEN_ITEMS = 16
# What to use instead of an op the target cannot run (op as the converter names it).
INSTEAD = {
    "GELU": "ReLU or hard-swish", "ERF": "ReLU or hard-swish", "EXP": "ReLU, sigmoid (LOGISTIC) or hard-swish",
    "LOG": "a ReLU-family activation", "POW": "MUL", "SIN": "no trigonometry on the target",
    "COS": "no trigonometry on the target", "BATCH_MATMUL": "FULLY_CONNECTED (Dense) with constant weights",
    "MEAN": "AVERAGE_POOL_2D (GlobalAveragePooling2D is converted to it when it pools H and W)",
    "FLEX": "builtin ops only", "CUSTOM": "builtin ops only",
}


@dataclass(frozen=True)
class ConvertOptions:
    model: Path
    data: Path
    name: str
    build: Path = Path("build")
    weights: Path | None = None  # a Darknet .weights when not beside the .cfg
    normalization: Normalization = field(default_factory=Normalization)
    calibration_fraction: float = 0.5
    calibration_n: int = 500
    seed: int = 0

    @property
    def out(self) -> Path:
        return self.build / self.name


def check_outputs(opts: ConvertOptions) -> None:
    """Everything the user can get wrong about where results go, before any work."""
    from common.atomic import check_replaceable_dir
    from common.cli import writable_file
    from common.deploy.efinix_generator import is_output_file
    from common.deploy.kit import check_name, is_kit_file

    check_name(opts.name)
    for f in ("model.tflite", "report.json", "model.keras", "golden_inputs.npz"):
        writable_file(opts.out / f)
    check_replaceable_dir(opts.out / "kit", is_kit_file)
    check_replaceable_dir(opts.out / "efinix", is_output_file)
    if not 0 < opts.calibration_fraction < 1:
        raise ConversionError(f"--calibration-fraction {opts.calibration_fraction} is not between 0 and 1")


def _single_input_shape(model) -> tuple[int, ...]:
    shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
    if len(shapes) != 1:
        raise ConversionError(f"the model has {len(shapes)} inputs; the converter takes one-input models")
    shape = tuple(shapes[0][1:])
    if any(d is None for d in shape):
        raise ConversionError(f"the model's input shape {shape} is not fixed: export it with a fixed input size")
    return tuple(int(d) for d in shape)


def _outputs(values: Any) -> list[np.ndarray]:
    return [np.asarray(v, np.float32) for v in (values if isinstance(values, (list, tuple)) else [values])]


def float_check(opts: ConvertOptions, fmt: str, x: np.ndarray, float_out: list[np.ndarray]) -> dict | None:
    """The Keras model's outputs `float_out` on inputs `x` against the runtime the file came from
    (ONNX: onnxruntime), on the first real inputs."""
    if fmt != "onnx":
        return None
    from common.convert.onnx_import import onnx_runtime_outputs

    x = x[:FLOAT_CHECK_ITEMS]
    ours, theirs = [f[:FLOAT_CHECK_ITEMS] for f in float_out], _outputs(onnx_runtime_outputs(opts.model, x))
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, theirs))
    scale = max(float(np.ptp(b)) for b in theirs) or 1.0
    if diff > FLOAT_CHECK_TOLERANCE * scale:
        raise ConversionError(f"the imported model differs from onnxruntime by {diff:.3g} (output range {scale:.3g}) on "
                              f"{len(x)} of your inputs: an operator is imported wrongly; please report it")
    return {"runtime": "onnxruntime", "n": len(x), "max_abs_diff": diff, "output_range": scale}


def target_problems(flatbuffer: bytes) -> list[str]:
    """Every reason the target cannot run the file, each with what to use instead."""
    from common.graph.efinix import efinix_violations
    from common.graph.quantize import check_int8

    problems = []
    try:
        check_int8(flatbuffer)
    except QuantizationError as exc:
        problems.append(str(exc))
    for v in efinix_violations(flatbuffer):
        op = v.split(" ", 1)[0].split(":", 1)[0]
        hint = INSTEAD.get(op.upper())
        problems.append(f"{v}{f'; use {hint} instead' if hint else ''}")
    return problems


def quantize(model, calibration: np.ndarray, n: int, seed: int) -> tuple[bytes, list[dict]]:
    """The full-int8 flatbuffer after the converter's passes (each checked), and their records."""
    from common.data.calibration import representative_dataset, select_indices
    from common.graph.passes import ACCELERATOR_FRIENDLY_LAYERS, COMPACT, PassContext
    from common.graph.quantize import convert_int8

    inputs = calibration[select_indices(len(calibration), n, seed)]
    ctx = PassContext(calibration=inputs)
    friendly, info = ACCELERATOR_FRIENDLY_LAYERS.apply(model, ctx)
    done = [{"name": ACCELERATOR_FRIENDLY_LAYERS.name, "preserves": ACCELERATOR_FRIENDLY_LAYERS.preserves, **info,
             "check": ACCELERATOR_FRIENDLY_LAYERS.check(model, friendly, ctx, info)}]
    model = friendly
    try:
        converted = convert_int8(model, representative_dataset(inputs))
    except QuantizationError as exc:
        raise ConversionError(f"the model cannot be converted to full int8 for the target: {exc}") from exc
    problems = target_problems(converted)
    if problems:
        raise ConversionError(f"the target cannot run this model ({len(problems)} problem"
                              f"{'s' if len(problems) > 1 else ''}, nothing written): {'; '.join(problems)}")
    flatbuffer, info = COMPACT.apply(converted, PassContext())
    done.append({"name": COMPACT.name, "preserves": COMPACT.preserves, **info,
                 "check": COMPACT.check(converted, flatbuffer, PassContext(), info)})
    return flatbuffer, done


def in_float_order(float_out: list[np.ndarray], int8_out: list[np.ndarray]) -> list[np.ndarray]:
    """The `.tflite`'s outputs in the Keras model's order (the converter may list them in another):
    matched by shape, and among outputs of one shape by the smallest difference."""
    left, ordered = list(range(len(int8_out))), []
    for f in float_out:
        same = [k for k in left if int8_out[k].shape == f.shape]
        if not same:
            raise ConversionError(f"the int8 file has no output of shape {f.shape[1:]} (float output); please report it")
        best = min(same, key=lambda k: float(np.mean((int8_out[k] - f) ** 2)))
        left.remove(best)
        ordered.append(int8_out[best])
    return ordered


def compare(float_out: list[np.ndarray], int8_out: list[np.ndarray], labels: np.ndarray | None,
            classes: list[str]) -> dict[str, Any]:
    """Float vs int8 on the held-out items: SNR and max error per output; top-1 agreement and (with
    labels) accuracy, with intervals and a paired verdict, for a classifier-shaped single output."""
    from common.evaluation import stats

    per_output = []
    for f, q in zip(float_out, int8_out):
        noise = float(np.sum((f - q) ** 2))
        per_output.append({"shape": list(f.shape[1:]), "max_abs_error": float(np.max(np.abs(f - q))),
                           "snr_db": float(10 * np.log10(float(np.sum(f ** 2)) / noise)) if noise else float("inf")})
    out: dict[str, Any] = {"outputs": per_output}
    f, q = float_out[0], int8_out[0]
    if len(float_out) == 1 and f.ndim == 2 and f.shape[1] > 1:
        out["top1_agreement"] = stats.proportion(np.argmax(f, 1) == np.argmax(q, 1)).as_dict()
        if labels is not None and len(classes) == f.shape[1]:
            right_f, right_q = np.argmax(f, 1) == labels, np.argmax(q, 1) == labels
            out["accuracy"] = {"float": stats.proportion(right_f).as_dict(), "int8": stats.proportion(right_q).as_dict(),
                               "int8_vs_float": stats.mcnemar(right_q, right_f).as_dict()}
        elif labels is not None:
            out["accuracy_not_measured"] = (f"{len(classes)} class folders but {f.shape[1]} model outputs: "
                                            "class index = sorted folder name must match the output index")
    return out


def report_scores(comparison: dict) -> tuple[str, dict, dict]:
    """The headline (metric name, scores, report keys) REPORT.md shows for a converted model."""
    if "accuracy" in comparison:
        acc = comparison["accuracy"]
        return "top-1 accuracy (your labels)", {"float": acc["float"], "int8": acc["int8"]}, {
            "metric_float": acc["float"]["value"], "metric_int8": acc["int8"]["value"]}
    if "top1_agreement" in comparison:
        agree = comparison["top1_agreement"]
        return "top-1 agreement int8 vs float", {"int8": agree}, {"metric_int8": agree["value"]}
    snr = min(o["snr_db"] for o in comparison["outputs"])
    return "output SNR int8 vs float (dB)", {}, {"metric_int8": snr}


def convert(opts: ConvertOptions) -> dict[str, Any]:
    """The whole conversion (see the module doc); returns report.json."""
    from common.atomic import write_json
    from common.convert.formats import load_model_any
    from common.data.items import calibration_record
    from common.evaluation.report import tflite_summary
    from common.graph.keras_io import save_model
    from common.graph.quantize import write_quantized
    from common.graph.runners import device_runner, DEVICE_RUNTIME
    from common.pipeline.evaluate import save_golden_inputs

    check_outputs(opts)
    start = time.perf_counter()
    model, fmt = load_model_any(opts.model, str(opts.weights) if opts.weights else None)
    input_shape = _single_input_shape(model)
    items, classes = read_folder(opts.data, input_shape, opts.normalization)
    calibration, held_out = split_items(items, opts.calibration_fraction, opts.seed)
    float_out = _outputs(model.predict(held_out.x, batch_size=64, verbose=0))  # before quantizing: once
    checked = float_check(opts, fmt, held_out.x, float_out)
    flatbuffer, passes = quantize(model, calibration.x, opts.calibration_n, opts.seed)

    out = opts.out
    record = calibration_record(calibration, "all", f"seeded {opts.calibration_fraction:g} of the files "
                                f"(seed {opts.seed}); the others are scored", opts.seed,
                                min(len(calibration), opts.calibration_n), True)
    tflite = write_quantized(out / "model.tflite", flatbuffer, {
        "model": opts.name, "source": {"file": str(opts.model), "format": fmt}, "calibration": record,
        "normalization": opts.normalization.as_dict(), "passes": passes,
        "ptq_seconds": round(time.perf_counter() - start, 2)})
    float_model = _save_float(model, out / "model.keras", save_model)

    int8_out = in_float_order(float_out, _outputs(device_runner(tflite).predict(held_out.x)))
    comparison = compare(float_out, int8_out, held_out.y, classes)
    metric, scores, headline = report_scores(comparison)
    save_golden_inputs([held_out.x[:GOLDEN_ITEMS]], out / "golden_inputs.npz")
    report = {
        "name": opts.name, "converted": True, "source": {"file": str(opts.model), "format": fmt},
        "card": {"application": "your model", "model": Path(opts.model).name, "input": "x".join(map(str, input_shape)),
                 "dataset": f"{Path(opts.data).name} (your data)", "quality target": "int8 = float"},
        "data": {"folder": str(opts.data), "files": len(items) + len(items.skipped), "class_names": classes,
                 "skipped": items.skipped, "normalization": opts.normalization.as_dict()},
        "n_calibration": len(calibration), "n_eval": len(held_out), "metric": metric, "scores": scores, **headline,
        "int8_runtime": DEVICE_RUNTIME, "float_check": checked, "int8_vs_float": comparison,
        "class_names": classes, **tflite_summary(tflite),
    }
    profile = _kit_and_generator(opts, tflite, float_model)
    report.update({k: profile.get(k) for k in ("macs", "tflm_arena_bytes", "params")})
    write_json(out / "report.json", report)
    from common.pipeline.zoo_report import build_report

    build_report(opts.build, opts.build / "REPORT.md")
    return report


def _save_float(model, path: Path, save_model) -> Path | None:
    """The float model beside the `.tflite` (for the kit's parameter count); None where Keras cannot
    save it in a form it loads back (a wrapped SavedModel): the kit then omits the count."""
    from common.graph.keras_io import load_model

    try:
        save_model(model, path)
        load_model(path)
    except Exception:  # noqa: BLE001 - any failure means: no float model file
        path.unlink(missing_ok=True)
        return None
    return path


def _kit_and_generator(opts: ConvertOptions, tflite: Path, float_model: Path | None) -> dict:
    """The deployment kit (its profile is returned: MACs, TFLM arena) and, with the analyzer, the
    Efinix generator output."""
    from common.deploy.efinix_generator import ANALYZER_ENV, generate
    from common.deploy.kit import deploy

    kit = deploy(tflite, opts.name, opts.out / "kit", golden=opts.out / "golden_inputs.npz", float_model=float_model,
                 latency_runs=20)
    if os.environ.get(ANALYZER_ENV):
        generate(tflite, opts.out / "efinix", opts.name, None)
    return kit["profile"]
