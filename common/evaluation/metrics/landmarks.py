"""Landmark metrics: normalised mean error (NME) between two sets of 2D/3D points."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def interocular_distance(points: np.ndarray, left: int, right: int) -> np.ndarray:
    """(N,) distance between landmarks `left` and `right` of (N, K, D) points (first two coords)."""
    points = np.asarray(points, np.float64)
    return np.linalg.norm(points[:, left, :2] - points[:, right, :2], axis=-1)


def nme_per_sample(pred: np.ndarray, ref: np.ndarray, left: int, right: int, dims: int = 2) -> np.ndarray:
    """(N,) mean Euclidean error over the K landmarks of (N, K, >=dims) `pred` vs `ref`, using the
    first `dims` coordinates, divided by the inter-ocular distance of `ref` (landmarks left/right)."""
    pred, ref = np.asarray(pred, np.float64), np.asarray(ref, np.float64)
    if pred.shape != ref.shape or pred.ndim != 3:
        raise ValueError(f"expected two (N, K, D) arrays of the same shape, got {pred.shape} and {ref.shape}")
    if len(ref) == 0:
        raise ValueError("NME of an empty set")
    norm = interocular_distance(ref, left, right)
    if np.any(norm <= 0):
        raise ValueError("reference landmarks with zero inter-ocular distance; cannot normalise")
    errors = np.linalg.norm(pred[..., :dims] - ref[..., :dims], axis=-1).mean(axis=1)
    return errors / norm


def nme(pred: np.ndarray, ref: np.ndarray, left: int, right: int, dims: int = 2) -> float:
    """Mean over samples of `nme_per_sample` (a fraction: 0.015 = 1.5%)."""
    return float(nme_per_sample(pred, ref, left, right, dims).mean())


def plot_landmarks(image: np.ndarray, point_sets: dict[str, np.ndarray], path: str | os.PathLike,
                   title: str = "") -> Path:
    """Write a PNG of `image` (HxWx3 in [0, 1]) with each named (K, >=2) point set drawn (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.atomic import save_figure

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(np.clip(image, 0, 1))
    for (label, pts), colour in zip(point_sets.items(), ("lime", "red", "cyan", "yellow")):
        pts = np.asarray(pts)
        ax.scatter(pts[:, 0], pts[:, 1], s=2, c=colour, label=label)
    ax.legend(loc="lower right", fontsize=7, markerscale=3)
    ax.set_axis_off()
    ax.set_title(title, fontsize=8)
    return save_figure(fig, path)
