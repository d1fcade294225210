"""Corner boxes `x_min, y_min, x_max, y_max` (any one unit): their IoU, shared by the detection metrics
(common.evaluation.metrics.detection) and the detectors' non-maximum suppression
(common.data.face_detector, models.yolo.decode)."""
from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) IoU of corner boxes, as pycocotools computes it for boxes (no +1 pixel)."""
    a = np.atleast_2d(np.asarray(a, np.float64))[:, None, :4]
    b = np.atleast_2d(np.asarray(b, np.float64))[None, :, :4]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
