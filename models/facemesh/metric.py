"""How the face landmark model is scored: NME against MediaPipe's own float model, its report keys and plot.

NME = mean landmark error (x, y) / inter-ocular distance (landmarks 33 and 263) of the reference.
Besides the face crops (the headline), every model is compared on the whole photos resized to
192x192, the input the Efinix demo uses.
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from common.data.calibration import sample_features
from common.evaluation.metrics.landmarks import nme_per_sample, plot_landmarks
from models.facemesh.data import augment_crops
from models.facemesh.model import LEFT_EYE, NUM_LANDMARKS, RIGHT_EYE
from models.facemesh.train import MAX_IMPORT_DIFF_PX

# pooling and the widening shortcut's channel join (PAD in MediaPipe's graph, CONCATENATION in ours) may run
# on the CPU (issue 7)
ACCEPTED_CPU_OPS = frozenset({"MAX_POOL_2D", "PAD", "CONCATENATION"})
MAX_NME_INT8 = 0.02
NAMES = {"int8": "ours_int8", "efinix_face_landmark": "efinix_int8"}  # the whole-photo comparison's keys


def split_outputs(outputs) -> tuple[np.ndarray, np.ndarray]:
    """Any model's outputs (Keras list or tflite list in any order, flat 1404 or 468x3) ->
    landmarks (N, 468, 3) and face-flag logits (N,)."""
    outputs = [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
    landmarks = next(o for o in outputs if o[0].size == NUM_LANDMARKS * 3)
    flag = next(o for o in outputs if o[0].size == 1)
    return landmarks.reshape(len(landmarks), NUM_LANDMARKS, 3), flag.reshape(len(flag))


def landmarks_and_flag(predict, x, items=None) -> tuple[np.ndarray, np.ndarray]:
    """A model's (landmarks, face-flag logits), whatever its output order and shapes."""
    return split_outputs(predict(x))


def calibration_images(items, n: int, seed: int):
    """Calibration variety from few photos: each crop, mirrored, jittered (seeded), plus the same photos
    whole (mostly no centred face, so the face-flag output is calibrated on negative logits too)."""
    images = np.concatenate([augment_crops(items.x, seed), items.columns["whole_images"]])
    (calibration,) = sample_features(images, n, seed)
    return calibration, items


def nme(truth, outputs, items=None) -> np.ndarray:
    """Per crop: NME of the landmarks against the truth's (MediaPipe float)."""
    return nme_per_sample(outputs[0], truth[0], LEFT_EYE, RIGHT_EYE)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(z, np.float64), -60, 60)))


def compare(pred: tuple[np.ndarray, np.ndarray], ref: tuple[np.ndarray, np.ndarray]) -> dict:
    """NME, landmark differences and face-score agreement of `pred` vs `ref` (both (landmarks, flag))."""
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


def whole_photos(ev) -> dict:
    """Per top-level sub-folder (one group for TFDS), each int8 model vs MediaPipe float on the scored
    photos whole, resized to 192x192 (the input the Efinix demo uses)."""
    from common.pipeline.evaluate import run_model

    truth = ev.recipe.truth_reference.label
    scored = ev.scored
    groups: dict[str, list[int]] = defaultdict(list)
    for i, source in enumerate(scored.ids):
        parts = Path(source).parts
        groups[parts[0] if len(parts) > 1 else "."].append(i)
    whole = scored.columns["whole_images"]
    outputs = {label: run_model(ev.recipe, ev.predictors[label], whole, scored)
               for label in (truth, *NAMES) if label in ev.predictors}
    out: dict = {}
    for folder, idx in sorted(groups.items()):
        ref = tuple(o[idx] for o in outputs[truth])
        out[folder] = {NAMES[label]: compare(tuple(o[idx] for o in outputs[label]), ref)
                       for label in NAMES if label in outputs}
    return out


def extras(ev) -> dict:
    """Float import fidelity (every face), int8 vs MediaPipe and vs our float (scored crops), the whole-photo
    comparison, and the checks of issue 7."""
    truth = ev.recipe.truth_reference.label
    int8_vs_mediapipe = compare(ev.held_out("int8"), ev.truth(ev.keep))
    report = ev.tflite
    out = {
        "faces_evaluated": ev.scored.ids,
        "skipped_images": ev.items.skipped,
        "int8_vs_mediapipe_float": int8_vs_mediapipe,
        "whole_image_vs_mediapipe_float": whole_photos(ev),
    }
    if "float" in ev.outputs:
        float_all = compare(ev.outputs["float"], ev.outputs[truth])
        out["float_keras_vs_mediapipe_all_faces"] = float_all
        out["int8_vs_keras_float"] = compare(ev.held_out("int8"), ev.held_out("float"))
    cpu_ops = sorted(o["op"] for o in report["ops"] if not o["accelerated"])
    out["cpu_ops"] = cpu_ops
    out["must_show"] = {
        "float_import_max_abs_diff_px_le_0.05": out.get("float_keras_vs_mediapipe_all_faces", {}).get(
            "landmarks_max_abs_diff_px", np.inf) <= MAX_IMPORT_DIFF_PX,
        "int8_nme_le_2pct": int8_vs_mediapipe["nme"] <= MAX_NME_INT8,
        "face_score_agreement": int8_vs_mediapipe["face_score_agreement"] == 1.0,
        "size_le_efinix_reference": report["size_bytes"] <= ev.recipe.max_tflite_bytes,
        "int8_io": all(d["dtype"] == "int8" for d in report["inputs"] + report["outputs"]),
        "all_int8": report["all_int8"],
        "ops_accelerated_or_pool_pad_concat": set(cpu_ops) <= ACCEPTED_CPU_OPS,
    }
    return out


def landmarks_plot(ev, out_dir: str | os.PathLike) -> dict[str, Path]:
    """MediaPipe's and our int8 landmarks drawn on the first scored face."""
    truth, ours = ev.truth(ev.keep), ev.held_out("int8")
    error = nme_per_sample(ours[0][:1], truth[0][:1], LEFT_EYE, RIGHT_EYE)[0]
    path = plot_landmarks(ev.scored.x[0], {"MediaPipe float": truth[0][0], "int8 (ours)": ours[0][0]},
                          Path(out_dir) / "landmarks.png", title=f"{Path(ev.scored.ids[0]).name}: NME {error:.2%}")
    return {"landmarks": path}
