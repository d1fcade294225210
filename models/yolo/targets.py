"""YOLOv3 training targets of yolo-pico: which anchor of which head each true box trains.

One array per head (output order, coarse grid first): (grid_h, grid_w, anchors, [cx, cy, w, h,
objectness, person]), box values normalised 0..1 to the network input.
"""
from __future__ import annotations

import numpy as np

from models.yolo.decode import ANCHORS, INPUT_SIZE

GRIDS = ((3, 3), (6, 6))
TARGET_SHAPES = tuple((gh, gw, len(a), 6) for (gh, gw), a in zip(GRIDS, ANCHORS))


def encode_targets(boxes: np.ndarray) -> tuple[np.ndarray, ...]:
    """(n, 4) normalised corners -> one target array per head; each box goes to the one anchor
    (of all six) whose shape fits it best, in the cell holding its centre (YOLOv3 assignment)."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    targets = tuple(np.zeros(shape, np.float32) for shape in TARGET_SHAPES)
    anchors = np.concatenate([a / np.array(INPUT_SIZE[::-1], np.float32) for a in ANCHORS])
    owner = np.concatenate([[(h, k) for k in range(len(a))] for h, a in enumerate(ANCHORS)])
    for x0, y0, x1, y1 in boxes:
        w, h = x1 - x0, y1 - y0
        if w <= 0 or h <= 0:
            continue
        inter = np.minimum(w, anchors[:, 0]) * np.minimum(h, anchors[:, 1])
        iou = inter / (w * h + anchors[:, 0] * anchors[:, 1] - inter)
        head, k = owner[int(np.argmax(iou))]
        gh, gw = GRIDS[head]
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        row, col = min(int(cy * gh), gh - 1), min(int(cx * gw), gw - 1)
        targets[head][row, col, k] = [cx, cy, w, h, 1.0, 1.0]
    return targets
