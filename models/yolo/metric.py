"""How yolo-pico is scored: mAP@0.5 (COCO 101-point) of the decoded boxes, the mean over the model's
classes of each class's AP (one class, person, for the zoo's model), its report keys and plots.

Detections are decoded as Darknet and the Efinix firmware do (`models.yolo.decode`: objectness >= 0.25,
NMS IoU 0.5 per class); the ranking score is objectness x class probability. A class is matched with its
own true boxes only; the number of classes is the heads' (3 anchors x (5 + C) channels), and the
true boxes of other class ids (COCO's other classes in the zoo's person folders) are not the model's.
A class without a true box in the scored images has no AP and is left out of the mean.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.evaluation.metrics.detection import (IOU_THRESHOLDS, Matches, ap_of_matches, average_precision,
                                                 curve_of_matches, match_image, plot_precision_recall)
from models.yolo.classes import depth_classes
from models.yolo.data import model_boxes
from models.yolo.decode import decode_batch, order_heads

DECODE = "objectness >= 0.25, NMS IoU 0.5 per class, score = objectness x class_prob"


def heads_in_order(predict, x, items=None) -> tuple:
    """A model's head maps, coarse grid first (a `.tflite` may list its outputs in another order)."""
    outputs = predict(x)
    return tuple(order_heads(outputs if isinstance(outputs, (list, tuple)) else [outputs]))


def scored(rows: list[np.ndarray]) -> list[np.ndarray]:
    """Decoded rows -> (n, 6) boxes + score (objectness x class probability) + class."""
    return [np.c_[r[:, :4], r[:, 4] * r[:, 5], r[:, 6]] for r in rows]


@dataclass(frozen=True)
class ImageDetections:
    """One image: its true boxes (`x_min, y_min, x_max, y_max, class`), the model's scored detections
    (`..., score, class`), and per class their matching at IoU 0.5 (computed once; the bootstrap's
    resamples of mAP@0.5 reuse it)."""

    gt: np.ndarray
    dets: np.ndarray
    at_50: tuple[Matches, ...]

    @classmethod
    def of(cls, gt: np.ndarray, dets: np.ndarray, num_classes: int) -> ImageDetections:
        gt, dets = model_boxes(gt, num_classes), np.asarray(dets, np.float64).reshape(-1, 6)
        return cls(gt, dets, tuple(match_image(gt[gt[:, 4] == c, :4], dets[dets[:, 5] == c, :5], 0.5)
                                   for c in range(num_classes)))


def detections(boxes, heads, items=None) -> list[ImageDetections]:
    """Per image: its true boxes of the model's classes, the model's scored detections and their matches."""
    num_classes = depth_classes(int(heads[0].shape[-1]))
    found = scored(decode_batch(list(heads)))
    return [ImageDetections.of(gt, dets, num_classes) for gt, dets in zip(boxes, found)]


def per_class_ap(values: list[ImageDetections]) -> list[float]:
    """AP@0.5 of each class (NaN: no true box of it in these images)."""
    return [ap_of_matches([v.at_50[c] for v in values]) for c in range(len(values[0].at_50))] if values else []


def map50(values: list[ImageDetections]) -> float:
    """mAP@0.5: the mean AP of the classes with a true box (NaN when there is none)."""
    aps = [ap for ap in per_class_ap(values) if not np.isnan(ap)]
    return float(np.mean(aps)) if aps else float("nan")


def _of_class(values: list[ImageDetections], c: int) -> tuple[list, list]:
    return ([v.gt[v.gt[:, 4] == c, :4] for v in values], [v.dets[v.dets[:, 5] == c, :5] for v in values])


def map50_95(values: list[ImageDetections]) -> float:
    """COCO mAP@[0.5:0.95], the mean over the classes with a true box."""
    aps = [average_precision(*_of_class(values, c), IOU_THRESHOLDS) for c in range(len(values[0].at_50))]
    aps = [ap for ap in aps if not np.isnan(ap)]
    return float(np.mean(aps)) if aps else float("nan")


def extras(ev) -> dict:
    """mAP@[0.5:0.95] of every scored model (mAP@0.5 is the headline), AP@0.5 per class, the boxes per
    class and the decoding."""
    names = list(ev.class_names)
    truth = [model_boxes(b, len(names)) for b in ev.truth(ev.keep)]
    counts = {name: int(sum((b[:, 4] == c).sum() for b in truth)) for c, name in enumerate(names)}
    out = {"n_boxes": counts, "decode": DECODE, "preprocessing": ev.recipe.preprocessing}
    if len(names) == 1:
        out[f"n_{names[0]}_boxes"] = counts[names[0]]
    for label, values in ev.per_item.items():
        out[f"map50_95_{label}"] = map50_95(values)
        if len(names) > 1 and len(values[0].at_50) == len(names):
            out[f"ap50_per_class_{label}"] = dict(zip(names, per_class_ap(values)))
    return out


def pr_curves(ev, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Precision-recall at IoU 0.5 on the scored images: of ours (int8, float) and the reference for one
    class; of each class (ours int8 and float, labelled with the class names) for several."""
    names = list(ev.class_names)
    curves = {}
    for label, values in ev.per_item.items():
        if label == "int8_litert":
            continue
        for c, name in enumerate(names):
            if c < len(values[0].at_50):
                recall, precision, _ = curve_of_matches([v.at_50[c] for v in values])
                curves[ev.display_name(label) + ("" if len(names) == 1 else f": {name}")] = (recall, precision)
    n = int(ev.keep.sum())
    title = f"{names[0]}, IoU 0.5, {n} images" if len(names) == 1 else f"{len(names)} classes, IoU 0.5, {n} images"
    return {"pr_curve": plot_precision_recall(curves, Path(out_dir) / "pr_curve.png", title=title)}
