"""How the face detector is scored: its faces against MediaPipe's own float detector's, per photo.

Both sides are decoded the same way (`common.data.face_detector`: anchors, sigmoid, MediaPipe's
weighted NMS at score >= 0.5) and matched greedily by IoU >= 0.5. A photo counts as right when every
face of the truth is matched and nothing else is detected. The report adds, per model: recall, the IoU
and keypoint error (mean keypoint distance / sqrt of the truth box's area) of the matched faces, and
the false detections on the photos where the truth finds no face.
"""
from __future__ import annotations

import os
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import numpy as np

from common.data.calibration import sample_features
from common.data.face_detector import Detection, decode, detector_outputs, ssd_anchors, weighted_nms
from common.evaluation.metrics.detection import box_iou
from models.face_detection.recipe import RECIPE

MATCH_IOU = 0.5
INPUT_SIZE = RECIPE.input_shape[0]
ACCEPTED_CPU_OPS = frozenset({"MAX_POOL_2D", "PAD", "CONCATENATION"})  # as facemesh (issue 7)
NAMES = {"int8": "ours_int8", "efinix_face_detection": "efinix_int8", "float": "ours_float"}


@lru_cache(maxsize=1)
def anchors() -> np.ndarray:
    return ssd_anchors(INPUT_SIZE)


def raw_outputs(predict, x, items=None) -> tuple[np.ndarray, np.ndarray]:
    """Any file's outputs as (regressors (N, 896, 16), face logits (N, 896)), in anchor order."""
    return detector_outputs(predict(x), len(anchors()))


def calibration_images(items, n: int, seed: int):
    """Every calibrating photo's centre square (no letterbox border) and its mirror image (seeded sample
    of `n`). A wide black border drives the deep layers' activations at the border cells 20-100x past
    what any picture content does (the 8x8 grid's face logits reach -27,810 there): calibrated on it, each
    tensor's one int8 scale would be too coarse for the faces. Calibrated on picture content, the
    border cells saturate in int8, where they mean "no face" all the same."""
    squares = items.columns["centre_square"]
    images = np.concatenate([squares, squares[:, :, ::-1]])
    (calibration,) = sample_features(images, n, seed)
    return calibration, items


def faces(outputs) -> list[list[Detection]]:
    """Per photo, the faces (in [0, 1] of the input) after weighted NMS, best first."""
    regressors, logits = outputs
    return [weighted_nms(*decode(r, c, anchors(), INPUT_SIZE)) for r, c in zip(regressors, logits)]


def match(truth: list[Detection], found: list[Detection]) -> list[tuple[int, int, float]]:
    """Greedy one-to-one (truth index, found index, IoU) pairs with IoU >= 0.5, best IoU first."""
    if not truth or not found:
        return []
    iou = box_iou(np.array([d.box for d in truth]), np.array([d.box for d in found]))
    pairs = []
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        t, f = np.unravel_index(flat, iou.shape)
        if iou[t, f] < MATCH_IOU:
            break
        if all(t != a and f != b for a, b, _ in pairs):
            pairs.append((int(t), int(f), float(iou[t, f])))
    return pairs


def faces_match(truth, outputs, items=None) -> np.ndarray:
    """Per photo: 1 when its faces match the truth's one to one (none missed, none extra), else 0."""
    values = []
    for t, f in zip(faces(truth), faces(outputs)):
        values.append(int(len(t) == len(f) == len(match(t, f))))
    return np.asarray(values, np.int64)


def keypoint_error(truth: Detection, found: Detection) -> float:
    """Mean keypoint distance relative to the truth box's size (sqrt of its area)."""
    x0, y0, x1, y1 = truth.box
    size = np.sqrt(max((x1 - x0) * (y1 - y0), 1e-12))
    return float(np.linalg.norm(found.keypoints - truth.keypoints, axis=1).mean() / size)


def compare(truth_faces: list[list[Detection]], found_faces: list[list[Detection]]) -> dict:
    """Recall, IoU and keypoint error of the matched faces, false detections (all photos, and on the
    photos without a face in the truth)."""
    ious, errors, missed, extra, extra_on_empty, empty_with_detection = [], [], 0, 0, 0, 0
    for t, f in zip(truth_faces, found_faces):
        pairs = match(t, f)
        ious += [iou for _, _, iou in pairs]
        errors += [keypoint_error(t[a], f[b]) for a, b, _ in pairs]
        missed += len(t) - len(pairs)
        extra += len(f) - len(pairs)
        if not t:
            extra_on_empty += len(f)
            empty_with_detection += int(bool(f))
    n_faces = sum(len(t) for t in truth_faces)
    return {
        "photos": len(truth_faces),
        "truth_faces": n_faces,
        "recall": len(ious) / n_faces if n_faces else None,
        "missed_faces": missed,
        "false_detections": extra,
        "mean_iou": float(np.mean(ious)) if ious else None,
        "min_iou": float(np.min(ious)) if ious else None,
        "keypoint_error_mean": float(np.mean(errors)) if errors else None,
        "keypoint_error_max": float(np.max(errors)) if errors else None,
        "photos_without_face": sum(1 for t in truth_faces if not t),
        "false_detections_on_photos_without_face": extra_on_empty,
        "photos_without_face_with_a_detection": empty_with_detection,
    }


def _groups(ids: list[str]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, source in enumerate(ids):
        parts = Path(source).parts
        groups[parts[0] if len(parts) > 1 else "."].append(i)
    return dict(sorted(groups.items()))


def extras(ev) -> dict:
    """Per model (ours int8, the Efinix file, our float): the detection comparison with MediaPipe float
    on the scored photos, also per top-level folder; the Efinix file's size and ops; the issue's checks."""
    from common.evaluation.report import tflite_summary
    from common.pipeline.references import fetch_file

    truth_label = ev.recipe.truth_reference.label
    truth = faces(ev.truth(ev.keep))
    found = {NAMES[label]: faces(ev.held_out(label)) for label in NAMES if label in ev.outputs}
    out: dict = {"vs_mediapipe_float": {name: compare(truth, f) for name, f in found.items()}}
    out["vs_mediapipe_float_per_folder"] = {
        folder: {name: compare([truth[i] for i in idx], [f[i] for i in idx]) for name, f in found.items()}
        for folder, idx in _groups(ev.scored.ids).items()}
    if "float" in ev.outputs:  # import fidelity on every photo (calibrating ones too)
        ref, ours = ev.outputs[truth_label], ev.outputs["float"]
        out["float_keras_vs_mediapipe_all_photos"] = {
            "n": len(ev.items), "regressors_max_abs_diff_px": float(np.abs(ours[0] - ref[0]).max()),
            "logits_max_abs_diff": float(np.abs(ours[1] - ref[1]).max())}
    report = ev.tflite
    efinix = tflite_summary(fetch_file(ev.recipe, ev.recipe.efinix_reference))
    ops = lambda summary: {o["op"]: o["count"] for o in summary["ops"]}  # noqa: E731
    out["graph_vs_efinix_file"] = {"ours": {"size_bytes": report["size_bytes"], "ops": ops(report)},
                                   "efinix": {"size_bytes": efinix["size_bytes"], "ops": ops(efinix)}}
    cpu_ops = sorted(op for o in report["ops"] if not o["accelerated"] for op in [o["op"]] * o["count"])
    out["cpu_ops"] = sorted(set(cpu_ops))
    ours_ops, efinix_ops = ops(report), ops(efinix)
    int8 = out["vs_mediapipe_float"]["ours_int8"]
    out["must_show"] = {
        "size_le_efinix_file": report["size_bytes"] <= efinix["size_bytes"],
        # as many ops fall back to the CPU (CONCATENATION for PAD), none of them a PAD or RESHAPE
        "cpu_ops_le_efinix_file": len(cpu_ops) <= sum(o["count"] for o in efinix["ops"] if not o["accelerated"]),
        "pads_le_efinix_file": ours_ops.get("PAD", 0) <= efinix_ops.get("PAD", 0),
        "recall_ge_0.95": (int8["recall"] or 0) >= 0.95,
        "int8_io": all(d["dtype"] == "int8" for d in report["inputs"] + report["outputs"]),
        "all_int8": report["all_int8"],
        "ops_accelerated_or_pool_pad_concat": set(cpu_ops) <= ACCEPTED_CPU_OPS,
    }
    return out


def detections_plot(ev, out_dir: str | os.PathLike) -> dict[str, Path]:
    """MediaPipe float's and our int8 faces (boxes, keypoints) on the scored photo with the most faces."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.atomic import save_figure

    truth, ours = faces(ev.truth(ev.keep)), faces(ev.held_out("int8"))
    best = int(np.argmax([len(t) for t in truth]))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow((ev.scored.x[best] + 1) / 2)
    for dets, colour, label, style in ((truth[best], "lime", "MediaPipe float", "-"), (ours[best], "red", "ours int8", "--")):
        for k, d in enumerate(dets):
            x0, y0, x1, y1 = (np.asarray(d.box) * INPUT_SIZE).tolist()
            ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=colour, ls=style,
                                       label=label if k == 0 else None))
            ax.scatter(*(d.keypoints * INPUT_SIZE).T, s=6, c=colour)
    ax.legend(loc="lower right", fontsize=7)
    ax.set_axis_off()
    ax.set_title(f"{Path(ev.scored.ids[best]).name}: {len(truth[best])} face(s) (MediaPipe), {len(ours[best])} (ours)",
                 fontsize=8)
    return {"detections": save_figure(fig, Path(out_dir) / "detections.png")}
