"""Float-Keras vs int8-tflite comparison on the same preprocessed data, written to report.json."""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any, Callable

import numpy as np

from common.atomic import atomic_path, write_json
from common.graph.quantize import read_quantization_metadata  # noqa: F401  (re-exported)
from common.evaluation.models import cached_predictions, load_predictor
from common.graph.tflite import list_ops, tensor_types
from common.graph.runners import DEVICE_RUNTIME, Runner
from common.data.weights import sha256_of


def versions() -> dict[str, str]:
    import ai_edge_litert
    import keras
    import tensorflow as tf

    from importlib.metadata import version

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "ai_edge_litert": getattr(ai_edge_litert, "__version__", None) or version("ai-edge-litert"),
        "numpy": np.__version__,
    }


def io_details(runner: Runner) -> dict[str, list[dict]]:
    def describe(d: dict) -> dict:
        scale, zero_point = d["quantization"]
        return {"shape": [int(s) for s in d["shape"]], "dtype": np.dtype(d["dtype"]).name,
                "scale": float(scale), "zero_point": int(zero_point)}

    return {"inputs": [describe(d) for d in runner.inputs], "outputs": [describe(d) for d in runner.outputs]}


def tflite_summary(path: str | os.PathLike) -> dict[str, Any]:
    """What a report says about a `.tflite` file whatever the model: size, hash, ops, I/O."""
    ops = list_ops(path)
    types = tensor_types(path)
    return {
        "tflite": str(path),
        "size_bytes": Path(path).stat().st_size,
        "sha256": sha256_of(path),
        "ops": ops,
        "accelerated_op_fraction": sum(o["count"] for o in ops if o["accelerated"]) / max(1, sum(o["count"] for o in ops)),
        "tensor_types": dict(types),
        "all_int8": set(types) <= {"INT8", "INT32"},
        **io_details(Runner(path)),
    }


GOLDEN_INPUTS = "golden_inputs.npz"
GOLDEN_N = 16


def save_golden_inputs(x: np.ndarray | list[np.ndarray], path: Path, n: int = GOLDEN_N) -> Path:
    """The first real preprocessed samples, kept beside the report for the deployment kit."""
    arrays = [x] if isinstance(x, np.ndarray) else list(x)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{f"input_{k}": np.asarray(a[:n], np.float32) for k, a in enumerate(arrays)})
    return path


def build_report(
    *,
    model_name: str,
    metric_name: str,
    higher_is_better: bool,
    metric_float: float | None,
    metric_int8: float | None,
    drop: float | None,
    n_eval: int,
    tflite_path: str | os.PathLike,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The zoo's report.json shape, the same for every model: the headline metric float vs int8
    (int8 computed by TensorFlow Lite Micro), the quantization sidecar, the `.tflite` summary and the
    software versions, plus the model's `extra` keys."""
    return {
        "model": model_name,
        "metric": metric_name,
        "higher_is_better": higher_is_better,
        "metric_float": metric_float,
        "metric_int8": metric_int8,
        "int8_runtime": DEVICE_RUNTIME,
        "drop": drop,
        "n_eval": n_eval,
        "quantization": read_quantization_metadata(tflite_path),
        **tflite_summary(tflite_path),
        "versions": versions(),
        **(extra or {}),
    }


def validate(
    *,
    model_name: str,
    keras_model,
    tflite_path: str | os.PathLike,
    x: np.ndarray | list[np.ndarray],
    y: Any,
    metric_fn: Callable[[Any, Any], float],
    metric_name: str,
    report_path: str | os.PathLike,
    higher_is_better: bool = True,
    extra: dict[str, Any] | None = None,
    batch_size: int = 64,
    write: bool = True,
) -> dict[str, Any]:
    """Score the float model and the int8 file with `metric_fn(y, predictions)` on the same `x`.

    `metric_int8` is computed by TensorFlow Lite Micro (the target's arithmetic, the same on every
    CPU); `metric_int8_litert` by LiteRT's optimized x86 kernels, a secondary number that can differ
    per CPU. `write=False` returns the report for the caller to complete and write once."""
    save_golden_inputs(x, Path(report_path).with_name(GOLDEN_INPUTS))
    # The cached value holds the model itself, so its id cannot be reused by another model meanwhile.
    _, float_pred = cached_predictions(("keras-object", id(keras_model)), x,
                                       lambda x: (keras_model, keras_model.predict(x, batch_size=batch_size, verbose=0)))
    int8_pred = load_predictor(tflite_path)(x)
    litert_pred = load_predictor(tflite_path, runtime="litert")(x)
    metric_float = float(metric_fn(y, float_pred))
    metric_int8 = float(metric_fn(y, int8_pred))
    drop = metric_float - metric_int8 if higher_is_better else metric_int8 - metric_float
    report = build_report(
        model_name=model_name, metric_name=metric_name, higher_is_better=higher_is_better,
        metric_float=metric_float, metric_int8=metric_int8, drop=drop,
        n_eval=len(x[0] if isinstance(x, list) else x), tflite_path=tflite_path,
        extra={"metric_int8_litert": float(metric_fn(y, litert_pred)),
               "metric_int8_litert_note": "LiteRT default (optimized x86) kernels on the machine that built it; "
                                          "secondary, int8 rounding differs per CPU",
               **(extra or {})},
    )
    if write:
        write_json(report_path, report)
    return report
