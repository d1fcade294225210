"""How yolo-pico is scored: person mAP@0.5 (COCO 101-point) of the decoded boxes, its report keys and plots.

Detections are decoded as Darknet and the Efinix firmware do (`models.yolo.decode`: objectness >= 0.25,
NMS IoU 0.5); the ranking score is objectness x class probability.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.evaluation.metrics.detection import (Matches, ap_of_matches, coco_map, match_image, plot_precision_recall,
                                                 precision_at_recall)
from models.yolo.decode import decode_batch, order_heads

DECODE = "objectness >= 0.25, NMS IoU 0.5, score = objectness x class_prob"


def heads_in_order(predict, x, items=None) -> tuple:
    """A model's head maps, coarse grid first (a `.tflite` may list its outputs in another order)."""
    outputs = predict(x)
    return tuple(order_heads(outputs if isinstance(outputs, (list, tuple)) else [outputs]))


def scored(rows: list[np.ndarray]) -> list[np.ndarray]:
    """Decoded rows -> (n, 5) boxes + score (objectness x class probability)."""
    return [np.c_[r[:, :4], r[:, 4] * r[:, 5]] for r in rows]


@dataclass(frozen=True)
class ImageDetections:
    """One image: its true person boxes, the model's scored detections, and their matching at IoU 0.5
    (computed once; the bootstrap's resamples of mAP@0.5 reuse it)."""

    gt: np.ndarray
    dets: np.ndarray
    at_50: Matches


def detections(boxes, heads, items=None) -> list[ImageDetections]:
    """Per image: its true person boxes, the model's scored detections and their matches at IoU 0.5."""
    found = scored(decode_batch(list(heads)))
    return [ImageDetections(gt, dets, match_image(gt, dets, 0.5)) for gt, dets in zip(boxes, found)]


def map50(values: list[ImageDetections]) -> float:
    return ap_of_matches([v.at_50 for v in values])


def _boxes(values: list[ImageDetections]) -> tuple[list, list]:
    return [v.gt for v in values], [v.dets for v in values]


def extras(ev) -> dict:
    """mAP@[0.5:0.95] of every scored model (AP@0.5 is the headline), the boxes and the decoding."""
    truth = ev.truth(ev.keep)
    out = {"n_person_boxes": int(sum(len(b) for b in truth)), "decode": DECODE,
           "preprocessing": ev.recipe.preprocessing}
    for label in ev.per_item:
        out[f"map50_95_{label}"] = coco_map(*_boxes(ev.per_item[label]))["map50_95"]
    return out


def pr_curves(ev, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Precision-recall at IoU 0.5 of ours (int8, float) and the reference on the scored images."""
    curves = {}
    for label in ev.per_item:
        if label == "int8_litert":
            continue
        recall, precision, _ = precision_at_recall(*_boxes(ev.per_item[label]))
        curves[ev.display_name(label)] = (recall, precision)
    n = int(ev.keep.sum())
    return {"pr_curve": plot_precision_recall(curves, Path(out_dir) / "pr_curve.png",
                                              title=f"person, IoU 0.5, {n} images")}
