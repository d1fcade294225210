"""YOLO decoding in one place: raw head maps -> boxes, NMS, scaling to image pixels.

Each head map is (grid_h, grid_w, anchors * (5 + classes)) in Darknet order per anchor
[tx, ty, tw, th, objectness, class...]. As Darknet and the Efinix firmware:
    x = (sigmoid(tx) + col) / grid_w,   w = anchor_w * exp(tw) / input_w   (anchors in pixels)
a box is kept when sigmoid(objectness) >= 0.25, and greedy NMS (per class) drops boxes whose IoU with a
better box of the same class exceeds 0.5. Rows are `x_min, y_min, x_max, y_max, objectness,
class_probability, class` (the box's best class), normalised 0..1 to the network input; the ranking
score is objectness * class_probability.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from common.evaluation.metrics.detection import box_iou
from models.yolo.model import heads
from models.yolo.recipe import RECIPE

# (anchors in pixels, w h) per output, in the model's output order (3x3 head, then 6x6 head): the cfg's.
ANCHORS = tuple(head["anchors"] for head in heads())
INPUT_SIZE = RECIPE.input_shape[:2]  # (height, width)
OBJECTNESS_THRESHOLD = 0.25
NMS_IOU = 0.5
MAX_DETECTIONS = 100


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def decode_head(feature: np.ndarray, anchors: np.ndarray, input_size: tuple[int, int] = INPUT_SIZE) -> np.ndarray:
    """One image's head map (gh, gw, A*(5+C)) -> (gh*gw*A, 7) unfiltered rows (class = best class)."""
    gh, gw, depth = feature.shape
    a = len(anchors)
    if depth % a or depth // a < 6:
        raise ValueError(f"head depth {depth} is not {a} anchors x (5 + classes)")
    f = feature.reshape(gh, gw, a, depth // a).astype(np.float32)
    cols, rows = np.meshgrid(np.arange(gw, dtype=np.float32), np.arange(gh, dtype=np.float32))
    cx = (sigmoid(f[..., 0]) + cols[..., None]) / gw
    cy = (sigmoid(f[..., 1]) + rows[..., None]) / gh
    w = np.exp(np.clip(f[..., 2], -60, 20)) * anchors[:, 0] / input_size[1]
    h = np.exp(np.clip(f[..., 3], -60, 20)) * anchors[:, 1] / input_size[0]
    objectness = sigmoid(f[..., 4])
    class_probs = sigmoid(f[..., 5:])
    best = class_probs.argmax(axis=-1)
    class_prob = np.take_along_axis(class_probs, best[..., None], axis=-1)[..., 0]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, objectness, class_prob, best], axis=-1)
    boxes[..., :4] = np.clip(boxes[..., :4], 0.0, 1.0)
    return boxes.reshape(-1, 7).astype(np.float32)


def nms(rows: np.ndarray, iou_threshold: float = NMS_IOU, max_detections: int = MAX_DETECTIONS) -> np.ndarray:
    """Greedy NMS on rows ranked by objectness * class_probability (stable on ties); a box suppresses
    only boxes of its own class (the 7th column; rows of 6 columns are one class)."""
    if len(rows) == 0:
        return rows.reshape(0, rows.shape[-1] if rows.ndim == 2 else 7)
    order = np.argsort(-(rows[:, 4] * rows[:, 5]), kind="stable")
    rows = rows[order]
    ious = box_iou(rows, rows)
    if rows.shape[1] > 6:
        ious = np.where(rows[:, None, 6] == rows[None, :, 6], ious, 0.0)
    keep: list[int] = []
    suppressed = np.zeros(len(rows), bool)
    for i in range(len(rows)):
        if suppressed[i]:
            continue
        keep.append(i)
        if len(keep) == max_detections:
            break
        suppressed |= ious[i] > iou_threshold
    return rows[keep]


def decode(
    outputs: Sequence[np.ndarray],
    anchors: Sequence[np.ndarray] = ANCHORS,
    input_size: tuple[int, int] = INPUT_SIZE,
    objectness_threshold: float = OBJECTNESS_THRESHOLD,
    iou_threshold: float = NMS_IOU,
    max_detections: int = MAX_DETECTIONS,
) -> np.ndarray:
    """One image's head maps (one per output, no batch dim) -> (n, 7) detections after NMS."""
    if len(outputs) != len(anchors):
        raise ValueError(f"{len(outputs)} head maps but {len(anchors)} anchor sets")
    rows = np.concatenate([decode_head(o, a, input_size) for o, a in zip(outputs, anchors)])
    rows = rows[rows[:, 4] >= objectness_threshold]
    return nms(rows, iou_threshold, max_detections)


def order_heads(outputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Batched head maps sorted coarse grid first, the order of ANCHORS. A `.tflite` may list its
    outputs in another order than the Keras model (the converter sorts them by name); like the
    firmware, we tell the heads apart by their grid size."""
    return sorted((np.asarray(o) for o in outputs), key=lambda o: o.shape[1] * o.shape[2])


def decode_batch(outputs: Sequence[np.ndarray], **kwargs) -> list[np.ndarray]:
    """Batched head maps (one array per output, batch first, any order) -> one (n, 7) array per image."""
    outputs = order_heads(outputs)
    return [decode([o[i] for o in outputs], **kwargs) for i in range(len(outputs[0]))]


def to_pixels(rows: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Normalised rows -> the same rows with corners in pixels of an image (height, width)."""
    rows = np.asarray(rows, np.float32)
    out = np.array(rows, np.float32, copy=True).reshape(-1, rows.shape[-1] if rows.ndim == 2 else 7)
    out[:, [0, 2]] *= image_size[1]
    out[:, [1, 3]] *= image_size[0]
    return out
