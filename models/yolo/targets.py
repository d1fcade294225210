"""YOLOv3 training targets of yolo-pico: which anchor of which head each true box trains.

One array per head (output order, coarse grid first): (grid_h, grid_w, anchors, [cx, cy, w, h,
objectness, one-hot class...]), box values normalised 0..1 to the network input.
"""
from __future__ import annotations

import numpy as np

from models.yolo.decode import ANCHORS, INPUT_SIZE

GRIDS = ((3, 3), (6, 6))


def target_shapes(num_classes: int = 1) -> tuple[tuple[int, int, int, int], ...]:
    """The target array of each head for a model of `num_classes` classes."""
    return tuple((gh, gw, len(a), 5 + num_classes) for (gh, gw), a in zip(GRIDS, ANCHORS))


TARGET_SHAPES = target_shapes(1)  # the person model's


def encode_targets(boxes: np.ndarray, num_classes: int = 1) -> tuple[np.ndarray, ...]:
    """(n, 5) normalised boxes `x_min, y_min, x_max, y_max, class` ((n, 4): class 0) -> one target array per
    head; each box goes to the one anchor (of all six) whose shape fits it best, in the cell holding its
    centre (YOLOv3 assignment)."""
    boxes = np.asarray(boxes, np.float32)
    if boxes.shape[-1:] == (4,):
        boxes = np.c_[boxes.reshape(-1, 4), np.zeros(len(boxes.reshape(-1, 4)), np.float32)]
    boxes = boxes.reshape(-1, 5)
    targets = tuple(np.zeros(shape, np.float32) for shape in target_shapes(num_classes))
    anchors = np.concatenate([a / np.array(INPUT_SIZE[::-1], np.float32) for a in ANCHORS])
    owner = np.concatenate([[(h, k) for k in range(len(a))] for h, a in enumerate(ANCHORS)])
    for x0, y0, x1, y1, label in boxes:
        w, h = x1 - x0, y1 - y0
        if w <= 0 or h <= 0:
            continue
        inter = np.minimum(w, anchors[:, 0]) * np.minimum(h, anchors[:, 1])
        iou = inter / (w * h + anchors[:, 0] * anchors[:, 1] - inter)
        head, k = owner[int(np.argmax(iou))]
        gh, gw = GRIDS[head]
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        row, col = min(int(cy * gh), gh - 1), min(int(cx * gw), gw - 1)
        targets[head][row, col, k, :5] = [cx, cy, w, h, 1.0]
        targets[head][row, col, k, 5:] = np.eye(num_classes, dtype=np.float32)[int(label)]
    return targets
