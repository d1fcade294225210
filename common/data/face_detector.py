"""MediaPipe's short-range face detector (BlazeFace, 128x128): anchors, decoding, weighted NMS and the
letterbox, shared by the face_detection model (its metric) and facemesh (its face crops).

Any file of this detector works, whatever its outputs look like: MediaPipe's float file
(regressors (1, 896, 16) + classificators (1, 896, 1)), Efinix's int8 file (the two grids apart:
512 + 384 anchors) or ours (the four head tensors before their reshape): `detector_outputs` puts them
back in anchor order. The image is letterboxed to the square input (zero border), RGB in [-1, 1].
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from common.data.boxes import box_iou
from common.data.images import resize

STRIDES = (8, 16, 16, 16)  # SsdAnchorsCalculator's layers of the short-range model
MIN_FACE_SCORE = 0.5  # MediaPipe's min_score_thresh
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold (weighted NMS)
NUM_KEYPOINTS = 6  # right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion
VALUES_PER_ANCHOR = 4 + 2 * NUM_KEYPOINTS


def ssd_anchors(input_size: int, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """(A, 2) anchor centres (x, y) in [0, 1] (SsdAnchorsCalculator with fixed_anchor_size: consecutive
    layers of equal stride share a grid; two anchors per layer per cell). 896 for 128 pixels."""
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


def detector_outputs(outputs: Sequence[np.ndarray], n_anchors: int) -> tuple[np.ndarray, np.ndarray]:
    """Any file's outputs (any order, any split into grids) -> regressors (N, A, 16) and logits (N, A).

    An output with at most A values per image is a classifier, one with more a regressor (16 values per
    anchor); within each kind the grid with more anchors (the finer one) comes first, as in
    MediaPipe's concatenation. Row-major (y, x, anchor) order is what MediaPipe's RESHAPE keeps."""
    arrays = [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
    n = len(arrays[0])
    classifiers = sorted((a for a in arrays if a[0].size <= n_anchors), key=lambda a: -a[0].size)
    regressors = sorted((a for a in arrays if a[0].size > n_anchors), key=lambda a: -a[0].size)
    logits = np.concatenate([a.reshape(n, -1) for a in classifiers], axis=1)
    boxes = np.concatenate([a.reshape(n, -1, VALUES_PER_ANCHOR) for a in regressors], axis=1)
    if logits.shape[1] != n_anchors or boxes.shape[1] != n_anchors:
        raise ValueError(f"detector outputs {[a.shape for a in arrays]} do not make {n_anchors} anchors")
    return boxes, logits


@dataclass(frozen=True)
class Detection:
    score: float
    box: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max
    keypoints: np.ndarray  # (6, 2) x, y


def decode(regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray,
           input_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's raw outputs -> scores (A,), boxes (A, 4) xyxy and keypoints (A, 6, 2), in [0, 1]
    of the detector's input."""
    raw = regressors.reshape(len(anchors), -1).astype(np.float64) / input_size
    centre = anchors + raw[:, 0:2]
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = anchors[:, None, :] + raw[:, 4:VALUES_PER_ANCHOR].reshape(-1, NUM_KEYPOINTS, 2)
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1).astype(np.float64), -100.0, 100.0)))
    return scores, boxes, keypoints


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray, min_score: float = MIN_FACE_SCORE,
                 iou: float = NMS_IOU) -> list[Detection]:
    """MediaPipe's WEIGHTED non-maximum suppression: the best remaining detection absorbs every one
    overlapping it by more than `iou`, its box and keypoints the score-weighted mean of them."""
    order = np.flatnonzero(scores >= min_score)
    order = order[np.argsort(-scores[order], kind="stable")]
    found = []
    while len(order):
        overlap = box_iou(boxes[order[0]], boxes[order])[0]
        overlap[0] = 1.0  # itself, even where a degenerate box has no area
        group, order = order[overlap > iou], order[overlap <= iou]
        w = scores[group] / scores[group].sum()
        box = (boxes[group] * w[:, None]).sum(0)
        points = (keypoints[group] * w[:, None, None]).sum(0)
        found.append(Detection(float(scores[group[0]]), tuple(float(v) for v in box), points.astype(np.float32)))
    return found


@dataclass(frozen=True)
class Letterbox:
    """Where an image lies in the square input: side of the square in image pixels and its offset."""

    side: int
    top: int
    left: int

    def to_image(self, d: Detection) -> Detection:
        """A detection in [0, 1] of the input -> image pixels."""
        offset = np.array([self.left, self.top], np.float64)
        box = np.asarray(d.box).reshape(2, 2) * self.side - offset
        return Detection(d.score, tuple(float(v) for v in box.reshape(-1)),
                         (d.keypoints * self.side - offset).astype(np.float32))


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """HxWx3 uint8 RGB -> (size x size x 3 float32 in [-1, 1], the letterbox), as MediaPipe's
    ImageToTensor with keep_aspect_ratio (a black border)."""
    h, w = image.shape[:2]
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    square = np.zeros((side, side, 3), np.float32)
    square[top:top + h, left:left + w] = image[..., :3]
    x = resize(square, (size, size)) / 127.5 - 1.0
    return x.astype(np.float32), Letterbox(side, top, left)


class FaceDetector:
    """The faces in an HxWx3 uint8 RGB image (image pixels), with any file of the detector (`path`),
    run by `runner(path)` (default: the LiteRT runner)."""

    def __init__(self, path: str | os.PathLike, min_score: float = MIN_FACE_SCORE, runner: Callable | None = None):
        from common.graph.runners import Runner

        self.runner = (runner or Runner)(path)
        self.size = int(self.runner.inputs[0]["shape"][1])
        self.anchors = ssd_anchors(self.size)
        self.min_score = min_score

    def _decode(self, image: np.ndarray) -> tuple[Letterbox, np.ndarray, np.ndarray, np.ndarray]:
        x, box = letterbox(image, self.size)
        regressors, logits = detector_outputs(self.runner.predict(x[None]), len(self.anchors))
        return (box, *decode(regressors[0], logits[0], self.anchors, self.size))

    def detect_all(self, image: np.ndarray) -> list[Detection]:
        """Every face (weighted NMS, as MediaPipe), best first."""
        box, scores, boxes, keypoints = self._decode(image)
        return [box.to_image(d) for d in weighted_nms(scores, boxes, keypoints, self.min_score)]

    def detect(self, image: np.ndarray) -> Detection | None:
        """The single highest-scoring anchor's face (no NMS blending), or None below `min_score`."""
        box, scores, boxes, keypoints = self._decode(image)
        best = int(np.argmax(scores))
        if scores[best] < self.min_score:
            return None
        return box.to_image(Detection(float(scores[best]), tuple(float(v) for v in boxes[best]), keypoints[best]))
