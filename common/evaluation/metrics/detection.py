"""COCO-style detection metrics for one class: AP@0.5 and AP@[0.5:0.95] with 101-point
interpolation, matching pycocotools' COCOeval (area range "all", maxDets 100, no crowd boxes).

Boxes are corner boxes `x_min, y_min, x_max, y_max` in any one unit (pixels or normalised) for
both ground truth and detections; detections carry a fifth column, the score.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from common.data.boxes import box_iou  # noqa: F401  (the IoU every detection metric uses)

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
MAX_DETECTIONS = 100


def _match(gt: np.ndarray, dets: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy COCO matching of score-sorted `dets` to `gt`: 1 for a true positive, else 0."""
    matched_gt = np.zeros(len(gt), bool)
    tp = np.zeros(len(dets), bool)
    if len(gt) == 0 or len(dets) == 0:
        return tp
    ious = box_iou(dets, gt)
    for d in range(len(dets)):
        best, m = min(threshold, 1 - 1e-10), -1
        for g in range(len(gt)):
            if matched_gt[g] or ious[d, g] < best:
                continue
            best, m = ious[d, g], g
        if m >= 0:
            matched_gt[m] = True
            tp[d] = True
    return tp


def _sorted_dets(dets: np.ndarray, max_detections: int) -> np.ndarray:
    dets = np.asarray(dets, np.float64).reshape(-1, 5)
    return dets[np.argsort(-dets[:, 4], kind="mergesort")][:max_detections]


@dataclass(frozen=True)
class Matches:
    """One image's detections matched at one IoU threshold: their scores, which of them are true
    positives, and how many true boxes the image has. AP over any multiset of images (a bootstrap
    resample) needs only these: COCO matches within an image."""

    scores: np.ndarray
    tp: np.ndarray
    n_gt: int


def match_image(gt: np.ndarray, dets: np.ndarray, threshold: float = 0.5,
                max_detections: int = MAX_DETECTIONS) -> Matches:
    """`dets` of one image (the `max_detections` best) greedily matched to its `gt` boxes."""
    gt = np.asarray(gt, np.float64).reshape(-1, 4)
    dets = _sorted_dets(dets, max_detections)
    return Matches(dets[:, 4], _match(gt, dets, threshold), len(gt))


def curve_of_matches(matches: Sequence[Matches]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(recall, precision, interpolated precision at the 101 recall thresholds) of matched images."""
    n_gt = sum(m.n_gt for m in matches)
    scores = np.concatenate([m.scores for m in matches]) if matches else np.zeros(0)
    tps = np.concatenate([m.tp for m in matches]) if matches else np.zeros(0, bool)
    order = np.argsort(-scores, kind="mergesort")
    tps = tps[order]
    tp_sum = np.cumsum(tps).astype(np.float64)
    fp_sum = np.cumsum(~tps).astype(np.float64)
    recall = tp_sum / n_gt if n_gt else np.full(len(tps), np.nan)
    precision = tp_sum / (tp_sum + fp_sum + np.spacing(1))
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    sampled = np.zeros(len(RECALL_THRESHOLDS))
    if n_gt and len(tps):
        idx = np.searchsorted(recall, RECALL_THRESHOLDS, side="left")
        valid = idx < len(envelope)
        sampled[valid] = envelope[idx[valid]]
    return recall, precision, sampled


def ap_of_matches(matches: Sequence[Matches]) -> float:
    """COCO AP (101-point) of matched images; NaN when they have no ground truth."""
    if sum(m.n_gt for m in matches) == 0:
        return float("nan")
    return float(curve_of_matches(matches)[2].mean())


def precision_at_recall(
    gt: Sequence[np.ndarray], dets: Sequence[np.ndarray], threshold: float = 0.5, max_detections: int = MAX_DETECTIONS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(recall, precision, interpolated precision at the 101 recall thresholds) at one IoU threshold."""
    if len(gt) != len(dets):
        raise ValueError(f"{len(gt)} ground-truth entries but {len(dets)} detection entries (one per image)")
    return curve_of_matches([match_image(g, d, threshold, max_detections) for g, d in zip(gt, dets)])


def average_precision(
    gt: Sequence[np.ndarray], dets: Sequence[np.ndarray], iou_thresholds: Sequence[float] = (0.5,),
    max_detections: int = MAX_DETECTIONS,
) -> float:
    """COCO AP (101-point) averaged over `iou_thresholds`; NaN when there is no ground truth.

    `gt[i]`: (n, 4) boxes of image i; `dets[i]`: (m, 5) boxes + score of image i.
    """
    if sum(len(np.asarray(g).reshape(-1, 4)) for g in gt) == 0:
        return float("nan")
    return float(np.mean([precision_at_recall(gt, dets, t, max_detections)[2].mean() for t in iou_thresholds]))


def coco_map(gt: Sequence[np.ndarray], dets: Sequence[np.ndarray], max_detections: int = MAX_DETECTIONS) -> dict:
    """{"map50": AP@0.5, "map50_95": AP@[0.5:0.95], "n_images", "n_gt", "n_dets"} (COCOeval stats[1], [0])."""
    return {
        "map50": average_precision(gt, dets, (0.5,), max_detections),
        "map50_95": average_precision(gt, dets, IOU_THRESHOLDS, max_detections),
        "n_images": len(gt),
        "n_gt": int(sum(len(np.asarray(g).reshape(-1, 4)) for g in gt)),
        "n_dets": int(sum(min(len(np.asarray(d).reshape(-1, 5)), max_detections) for d in dets)),
    }


def pycocotools_map(gt: Sequence[np.ndarray], dets: Sequence[np.ndarray]) -> dict:
    """The same numbers computed by pycocotools' COCOeval (for cross-checks); quiet."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations, results = [], [], []
    for i, (g, d) in enumerate(zip(gt, dets)):
        images.append({"id": i + 1, "width": 1, "height": 1})
        for box in np.asarray(g, np.float64).reshape(-1, 4):
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                                "bbox": [box[0], box[1], w, h], "area": w * h})
        for box in np.asarray(d, np.float64).reshape(-1, 5):
            results.append({"image_id": i + 1, "category_id": 1, "score": float(box[4]),
                            "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]})
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "object"}]}
        coco.createIndex()
        result = coco.loadRes(results) if results else COCO()
        if not results:
            result.dataset = {"images": images, "annotations": [], "categories": coco.dataset["categories"]}
            result.createIndex()
        evaluator = COCOeval(coco, result, "bbox")
        evaluator.params.imgIds = [im["id"] for im in images]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {"map50": float(evaluator.stats[1]), "map50_95": float(evaluator.stats[0])}


def plot_precision_recall(
    curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | os.PathLike, title: str = ""
) -> Path:
    """One PR curve per label (label -> (recall, precision)), written atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.atomic import save_figure

    fig, ax = plt.subplots(figsize=(5, 4))
    for label, (recall, precision) in curves.items():
        ax.plot(recall, precision, label=label)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return save_figure(fig, path)
