"""MediaPipe's short-range face detector (`face_detection_short_range.tflite`) on the LiteRT runner.

The image is letterboxed to 128x128 (zero border), RGB in [-1, 1]; the 896 SSD anchors are decoded
here and the best-scoring face is kept when its score reaches MediaPipe's threshold (0.5).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from common.data.images import resize

DETECTOR_SIZE = 128
MIN_FACE_SCORE = 0.5  # MediaPipe's min_score_thresh for the short-range detector


def ssd_anchors(input_size: int = DETECTOR_SIZE, strides: tuple[int, ...] = (8, 16, 16, 16)) -> np.ndarray:
    """(896, 2) anchor centres (x, y) in [0, 1] of MediaPipe's short-range face detector
    (SsdAnchorsCalculator with fixed_anchor_size: consecutive layers of equal stride share a grid;
    two anchors per layer per cell)."""
    centres = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        n_layers = 0
        while layer < len(strides) and strides[layer] == stride:
            n_layers += 1
            layer += 1
        grid = -(-input_size // stride)
        for y in range(grid):
            for x in range(grid):
                centres.extend([((x + 0.5) / grid, (y + 0.5) / grid)] * (2 * n_layers))
    return np.asarray(centres, np.float32)


@dataclass(frozen=True)
class Detection:
    score: float
    box: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max in image pixels
    keypoints: np.ndarray  # (6, 2) in image pixels: right eye, left eye, nose, mouth, right ear, left ear


def decode_detections(regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray,
                      input_size: int = DETECTOR_SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw detector outputs for one image -> scores (A,), boxes (A, 4) xyxy and keypoints (A, 6, 2),
    all in [0, 1] of the detector's input."""
    raw = regressors.reshape(len(anchors), -1) / input_size
    centre = anchors + raw[:, 0:2]
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = anchors[:, None, :] + raw[:, 4:16].reshape(-1, 6, 2)
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1).astype(np.float64), -100.0, 100.0)))
    return scores, boxes, keypoints


class FaceDetector:
    """MediaPipe's short-range face detector on the LiteRT runner; `detect(image)` -> best face."""

    def __init__(self, path: str | os.PathLike | None = None, min_score: float = MIN_FACE_SCORE):
        from common.graph.runners import Runner
        from common.pipeline.references import fetch_file
        from models.facemesh.recipe import RECIPE

        self.runner = Runner(fetch_file(RECIPE, "mediapipe_face_detection", path))
        self.anchors = ssd_anchors()
        self.min_score = min_score

    def detect(self, image: np.ndarray) -> Detection | None:
        """The highest-scoring face in an HxWx3 uint8 RGB image, or None below `min_score`."""
        h, w = image.shape[:2]
        side = max(h, w)
        # Letterbox to a square (zero border), as MediaPipe's ImageToTensor with keep_aspect_ratio.
        top, left = (side - h) // 2, (side - w) // 2
        square = np.zeros((side, side, 3), np.float32)
        square[top:top + h, left:left + w] = image
        x = resize(square, (DETECTOR_SIZE, DETECTOR_SIZE)) / 127.5 - 1.0
        regressors, logits = self.runner.predict(x[None].astype(np.float32))
        scores, boxes, keypoints = decode_detections(regressors[0], logits[0], self.anchors)
        best = int(np.argmax(scores))
        if scores[best] < self.min_score:
            return None
        offset = np.array([left, top], np.float32)
        box = boxes[best].reshape(2, 2) * side - offset
        return Detection(float(scores[best]), tuple(float(v) for v in box.reshape(-1)),
                         keypoints[best] * side - offset)
