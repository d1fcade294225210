"""Face landmark quality against MediaPipe's own float model (the reference), on real face crops.

NME = mean landmark error (x, y) / inter-ocular distance (landmarks 33 and 263) of the reference.
Prints one JSON line; with --float-model and --report it also writes report.json with float Keras
vs the original tflite (max abs landmark difference, px), int8 vs float NME, face-score agreement,
the Efinix reference int8 file on the same inputs, and a PNG of landmarks drawn on a face.

    python -m models.facemesh.evaluate --model build/facemesh/model.tflite --data-dir ../shared/data/faces
    python -m models.facemesh.evaluate --model build/facemesh/model.tflite \\
        --float-model build/facemesh/model.keras --report build/facemesh/report.json --data-dir ../shared/data/faces
"""
from __future__ import annotations

import functools
import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from common import env  # noqa: F401
from common.pipeline.cards import NONE, load_card, resolve_reference
from common.cli import ArgumentParser, user_errors_as_one_line
from common.evaluation.models import check_model_files, require_input_shape, require_int8_tflite
from common.evaluation.metrics.landmarks import nme_per_sample, plot_landmarks
from models.facemesh.data import FaceCrops, add_source_args, load_face_crops
from models.facemesh.model import INPUT_SHAPE, LEFT_EYE, NUM_LANDMARKS, RIGHT_EYE

DATA = "the face crops"

EVAL_SPLIT = "evaluation"
CARD = load_card("facemesh")
MEDIAPIPE_REFERENCE, EFINIX_REFERENCE = CARD.references  # the float model NME is measured against; Efinix int8
# pooling and the widening shortcut's channel join (PAD in MediaPipe's graph, CONCATENATION in ours) may run
# on the CPU (issue 7)
ACCEPTED_CPU_OPS = frozenset({"MAX_POOL_2D", "PAD", "CONCATENATION"})
MAX_SIZE_BYTES = 768_792  # the Efinix reference int8 file
MAX_IMPORT_DIFF_PX = 0.05
MAX_NME_INT8 = 0.02


def split_outputs(outputs) -> tuple[np.ndarray, np.ndarray]:
    """Any model's outputs (Keras list or tflite list in any order, flat 1404 or 468x3) ->
    landmarks (N, 468, 3) and face-flag logits (N,)."""
    outputs = [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
    landmarks = next(o for o in outputs if o[0].size == NUM_LANDMARKS * 3)
    flag = next(o for o in outputs if o[0].size == 1)
    return landmarks.reshape(len(landmarks), NUM_LANDMARKS, 3), flag.reshape(len(flag))


def predict(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks and flag logits of a `.tflite`/`.keras` path, a runner or a Keras model (an int8
    `.tflite` runs in TensorFlow Lite Micro). Each (model, images) pair is run once per process."""
    from common.evaluation.models import cached_predictions, load_predictor
    from common.graph.runners import QuantizedRunner

    if isinstance(model, (str, os.PathLike)):
        return split_outputs(load_predictor(model)(x))
    if isinstance(model, QuantizedRunner):
        run = lambda x: (model, model.predict(x, batch_size=1))  # noqa: E731
    else:
        run = lambda x: (model, model.predict(x, batch_size=8, verbose=0))  # noqa: E731
    # The cached value keeps the model alive, so its id is not reused by another model meanwhile.
    return split_outputs(cached_predictions(("object", id(model)), x, run)[1])


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(z, np.float64), -60, 60)))


def compare(pred: tuple[np.ndarray, np.ndarray], ref: tuple[np.ndarray, np.ndarray]) -> dict:
    """NME, landmark differences and face-score agreement of `pred` vs `ref` (both from `predict`)."""
    per_sample = nme_per_sample(pred[0], ref[0], LEFT_EYE, RIGHT_EYE)
    p_pred, p_ref = sigmoid(pred[1]), sigmoid(ref[1])
    return {
        "n": int(len(per_sample)),
        "nme": float(per_sample.mean()),
        "nme_max": float(per_sample.max()),
        "landmarks_max_abs_diff_px": float(np.abs(pred[0] - ref[0]).max()),
        "face_score_agreement": float(np.mean((p_pred > 0.5) == (p_ref > 0.5))),
        "face_score_max_abs_diff": float(np.abs(p_pred - p_ref).max()),
        "reference_faces_present": int(np.sum(p_ref > 0.5)),
    }


@functools.lru_cache(maxsize=1)
def reference_model():
    from common.graph.runners import Runner
    from models.facemesh.weights import mediapipe_file

    return Runner(mediapipe_file(MEDIAPIPE_REFERENCE))


def evaluate(model_path: str | os.PathLike, *, data_dir: str | os.PathLike | None = None,
             split: str = EVAL_SPLIT, tfds_dir: str | os.PathLike | None = None,
             crops: FaceCrops | None = None) -> dict:
    """NME etc. of any face landmark model file vs MediaPipe's float tflite on the face crops."""
    require_input_shape(model_path, INPUT_SHAPE, data=DATA)
    crops = crops or load_face_crops(split, data_dir=data_dir, tfds_dir=tfds_dir)
    result = compare(predict(model_path, crops.images), predict(reference_model(), crops.images))
    return {"model": str(model_path), "split": split, "input": "face crops (detector box x1.5, 192x192)", **result}


def whole_image_comparison(models: dict[str, object], crops: FaceCrops,
                           data_dir: str | os.PathLike | None) -> dict:
    """Per top-level sub-folder of `data_dir` (one group for TFDS), each model vs MediaPipe float on
    the whole photos resized to 192x192 (the input the Efinix demo uses)."""
    ref = reference_model()
    groups: dict[str, list[int]] = defaultdict(list)
    for i, source in enumerate(crops.sources):
        if data_dir is None:
            groups[source.split("/")[0]].append(i)
            continue
        parts = Path(source).relative_to(Path(data_dir).resolve()).parts
        groups[parts[0] if len(parts) > 1 else "."].append(i)
    out: dict = {}
    for folder, idx in sorted(groups.items()):
        x = crops.whole_images[idx]
        ref_out = predict(ref, x)
        out[folder] = {name: compare(predict(m, x), ref_out) for name, m in models.items()}
    return out


def validate_artifacts(keras_path: str | os.PathLike, tflite_path: str | os.PathLike,
                       report_path: str | os.PathLike, *, data_dir: str | os.PathLike | None = None,
                       tfds_dir: str | os.PathLike | None = None,
                       split: str = EVAL_SPLIT, png: str | os.PathLike | None = None,
                       reference: str | os.PathLike | None = EFINIX_REFERENCE) -> dict:
    """report.json: float Keras and int8 vs MediaPipe float on the evaluation crops, plus the checks
    of issue 7 (import fidelity on all faces, size, op list, `reference` int8 file side by side)."""
    from common.graph.keras_io import load_model
    from common.evaluation.validate import validate

    require_int8_tflite(tflite_path)
    check_model_files(tflite_path, INPUT_SHAPE, float_model=keras_path, data=DATA)
    compared = {"ours_int8": tflite_path}
    if reference and str(reference) != NONE:
        compared["efinix_int8"] = require_int8_tflite(resolve_reference(reference), "--reference")
    keras_model = load_model(keras_path)
    crops = load_face_crops(split, data_dir=data_dir, tfds_dir=tfds_dir)
    everything = load_face_crops("all", data_dir=data_dir, tfds_dir=tfds_dir)
    ref = reference_model()
    ref_eval = predict(ref, crops.images)

    def nme_vs_reference(_y, outputs) -> float:
        return compare(split_outputs(outputs), ref_eval)["nme"]

    int8_eval = predict(tflite_path, crops.images)
    float_eval = predict(keras_model, crops.images)
    float_all = compare(predict(keras_model, everything.images), predict(ref, everything.images))
    int8_vs_mediapipe = compare(int8_eval, ref_eval)
    int8_vs_keras = compare(int8_eval, float_eval)
    whole = whole_image_comparison(compared, everything, data_dir)
    extra = {
        "split": split,
        "faces_evaluated": crops.sources,
        "skipped_images": crops.skipped,
        "skipped_files": [{"file": s["image"], "error": s["reason"]} for s in crops.skipped],
        "float_keras_vs_mediapipe_all_faces": float_all,
        "int8_vs_mediapipe_float": int8_vs_mediapipe,
        "int8_vs_keras_float": int8_vs_keras,
        "whole_image_vs_mediapipe_float": whole,
    }
    report = validate(
        model_name="facemesh", keras_model=keras_model, tflite_path=tflite_path, x=crops.images, y=None,
        metric_fn=nme_vs_reference, metric_name=f"NME vs MediaPipe float tflite (inter-ocular 33-263, {split} crops)",
        report_path=report_path, higher_is_better=False, extra=extra, batch_size=8, write=False,
    )
    cpu_ops = sorted(o["op"] for o in report["ops"] if not o["accelerated"])
    report["must_show"] = {
        "float_import_max_abs_diff_px_le_0.05": float_all["landmarks_max_abs_diff_px"] <= MAX_IMPORT_DIFF_PX,
        "int8_nme_le_2pct": int8_vs_mediapipe["nme"] <= MAX_NME_INT8,
        "face_score_agreement": int8_vs_mediapipe["face_score_agreement"] == 1.0,
        "size_le_efinix_reference": report["size_bytes"] <= MAX_SIZE_BYTES,
        "int8_io": all(d["dtype"] == "int8" for d in report["inputs"] + report["outputs"]),
        "all_int8": report["all_int8"],
        "ops_accelerated_or_pool_pad_concat": set(cpu_ops) <= ACCEPTED_CPU_OPS,
    }
    report["cpu_ops"] = cpu_ops
    if png:
        i = 0
        plot_landmarks(crops.images[i], {"MediaPipe float": ref_eval[0][i], "int8 (ours)": int8_eval[0][i]}, png,
                       title=f"{Path(crops.sources[i]).name}: NME "
                             f"{nme_per_sample(int8_eval[0][i:i+1], ref_eval[0][i:i+1], LEFT_EYE, RIGHT_EYE)[0]:.2%}")
        report["landmarks_png"] = str(png)
    from common.atomic import write_json

    write_json(report_path, report)
    return report


@user_errors_as_one_line()
def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help=".keras or .tflite face landmark model (192x192x3 in)")
    add_source_args(parser)
    parser.add_argument("--split", default=EVAL_SPLIT, choices=("calibration", "evaluation", "all"))
    parser.add_argument("--png", help="write landmarks drawn on a face as a PNG (with --report)")
    parser.add_argument("--reference", default=EFINIX_REFERENCE,
                        help="with --report: int8 .tflite (path or registered name) compared on the whole photos "
                             f"(default: {EFINIX_REFERENCE}, the model card's); '{NONE}' to skip")
    parser.add_argument("--float-model", help="also compare with this float .keras model ...")
    parser.add_argument("--report", help="... and write the comparison to this report.json")
    args = parser.parse_args(argv)
    if bool(args.float_model) != bool(args.report):
        parser.error("--float-model and --report go together")
    check_model_files(args.model, INPUT_SHAPE, int8=bool(args.report), float_model=args.float_model, data=DATA)
    result = evaluate(args.model, data_dir=args.data_dir, split=args.split, tfds_dir=args.tfds_dir)
    if args.report:
        report = validate_artifacts(args.float_model, args.model, args.report, data_dir=args.data_dir,
                                    tfds_dir=args.tfds_dir,
                                    split=args.split, png=args.png, reference=args.reference)
        result.update({k: report[k] for k in ("metric_float", "metric_int8", "size_bytes", "must_show")})
    print(json.dumps(result))


if __name__ == "__main__":
    from common.cli import run

    run(main)
