"""report.json, the same shape for every model: the headline metric of ours (int8 under TensorFlow Lite
Micro), of the float model and of each reference on the same items, each with its n and 95% interval,
the paired verdicts, the data scored, the quantization record, the `.tflite` summary and the versions."""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from common.data.weights import sha256_of
from common.graph.runners import DEVICE_RUNTIME, Runner
from common.graph.tflite import list_ops, tensor_types

# What report.json calls the scored models besides the references (which go by their file's name).
INT8, FLOAT, LITERT = "int8", "float", "int8_litert"
LITERT_NOTE = ("LiteRT default (optimized x86) kernels on the machine that built it; secondary, int8 rounding "
               "differs per CPU")


def versions() -> dict[str, str]:
    from importlib.metadata import version

    import ai_edge_litert
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "ai_edge_litert": getattr(ai_edge_litert, "__version__", None) or version("ai-edge-litert"),
        "tflite_micro": version("tflite-micro"),
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


def build_report(ev, title: str, extras: dict, plots: dict) -> dict[str, Any]:
    """The report of an evaluation (`common.pipeline.evaluate.Evaluation`) plus the model's `extras`."""
    from common.graph.quantize import read_quantization_metadata

    recipe, metric, scores = ev.recipe, ev.metric, ev.scores
    value = lambda label: scores[label].value if label in scores else None  # noqa: E731
    m_float, m_int8 = value(FLOAT), value(INT8)
    drop = None if m_float is None or m_int8 is None else (m_float - m_int8 if metric.higher_is_better
                                                            else m_int8 - m_float)
    excluded = int((~ev.keep).sum())
    references = {}
    for ref in ev.competitors:
        path = ev.paths[ref.label]
        references[ref.label] = {"title": ev.display_name(ref.label), "tflite": str(path),
                                 "size_bytes": Path(path).stat().st_size, "sha256": sha256_of(path),
                                 "score": scores[ref.label].as_dict(), "ours_vs_it": ev.verdicts[ref.label].as_dict()}
    report: dict[str, Any] = {
        "model": recipe.name,
        "metric": title,
        "higher_is_better": metric.higher_is_better,
        "metric_float": m_float,
        "metric_int8": m_int8,
        "metric_int8_litert": value(LITERT),
        "metric_int8_litert_note": LITERT_NOTE,
        "int8_runtime": DEVICE_RUNTIME,
        "drop": drop,
        "n_eval": int(ev.keep.sum()),
        "scores": {label: s.as_dict() for label, s in scores.items()},
        "verdicts": {label: v.as_dict() for label, v in ev.verdicts.items()},
        "references": references,
        "data": {"source": ev.items.source, "n_items": len(ev.items), "excluded_calibration_items": excluded,
                 "scored": [i for i, k in zip(ev.items.ids, ev.keep) if k]},
        "skipped_files": ev.items.skipped,
        "max_tflite_bytes": recipe.max_tflite_bytes,
        **({"class_names": list(ev.class_names)} if ev.class_names else {}),
        "plots": plots,
    }
    if excluded and INT8 in ev.outputs and (metric.truth != FLOAT or FLOAT in ev.outputs):
        everything = np.ones(len(ev.items), bool)
        report["all_items"] = {
            "n": len(ev.items),
            "note": f"every item, the {excluded} that calibrated the file included (for comparison only; the "
                    "headline leaves them out)",
            **{f"metric_{label}": ev.aggregate(ev.per_item_values(label, everything))
               for label in (FLOAT, INT8, *(r.label for r in ev.competitors)) if label in ev.outputs}}
    return {**report, "quantization": read_quantization_metadata(ev.paths[INT8]), **ev.tflite,
            "versions": versions(), **extras}
