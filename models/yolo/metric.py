"""How yolo-pico is scored: person mAP@0.5 (COCO 101-point) of the decoded boxes, its report keys and plots.

Detections are decoded as Darknet and the Efinix firmware do (`models.yolo.decode`: objectness >= 0.25,
NMS IoU 0.5); the ranking score is objectness x class probability.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common.evaluation.metrics.detection import average_precision, coco_map, plot_precision_recall, precision_at_recall
from models.yolo.decode import decode_batch, order_heads

DECODE = "objectness >= 0.25, NMS IoU 0.5, score = objectness x class_prob"


def heads_in_order(predict, x, items=None) -> tuple:
    """A model's head maps, coarse grid first (a `.tflite` may list its outputs in another order)."""
    outputs = predict(x)
    return tuple(order_heads(outputs if isinstance(outputs, (list, tuple)) else [outputs]))


def scored(rows: list[np.ndarray]) -> list[np.ndarray]:
    """Decoded rows -> (n, 5) boxes + score (objectness x class probability)."""
    return [np.c_[r[:, :4], r[:, 4] * r[:, 5]] for r in rows]


def detections(boxes, heads, items=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per image: (its true person boxes, the model's scored detections)."""
    return list(zip(boxes, scored(decode_batch(list(heads)))))


def map50(values) -> float:
    gt, dets = zip(*values)
    return average_precision(list(gt), list(dets), (0.5,))


def extras(ev) -> dict:
    """mAP@[0.5:0.95] of every scored model (AP@0.5 is the headline), the boxes and the decoding."""
    truth = ev.truth(ev.keep)
    out = {"n_person_boxes": int(sum(len(b) for b in truth)), "decode": DECODE,
           "preprocessing": ev.recipe.preprocessing}
    for label in ev.per_item:
        gt, dets = zip(*ev.per_item[label])
        out[f"map50_95_{label}"] = coco_map(list(gt), list(dets))["map50_95"]
    return out


def pr_curves(ev, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Precision-recall at IoU 0.5 of ours (int8, float) and the reference on the scored images."""
    curves = {}
    for label in ev.per_item:
        if label == "int8_litert":
            continue
        gt, dets = zip(*ev.per_item[label])
        recall, precision, _ = precision_at_recall(list(gt), list(dets))
        curves[ev.display_name(label)] = (recall, precision)
    n = int(ev.keep.sum())
    return {"pr_curve": plot_precision_recall(curves, Path(out_dir) / "pr_curve.png",
                                              title=f"person, IoU 0.5, {n} images")}
