"""Anomaly-detection metrics: ROC curve, AUC and partial AUC (DCASE / MLPerf Tiny convention).

Scores are "higher = more anomalous"; labels are 1 for anomaly, 0 for normal. The partial AUC is
sklearn's `roc_auc_score(..., max_fpr=p)`, i.e. the area up to FPR p with the McClish correction
(0.5 = chance, 1.0 = perfect), which is what the DCASE 2020 Task 2 and MLPerf Tiny baselines report.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np


def _check(y_true, score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).reshape(-1).astype(int)
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    if len(y) != len(s):
        raise ValueError(f"{len(y)} labels but {len(s)} scores")
    if not set(np.unique(y)) <= {0, 1}:
        raise ValueError("labels must be 0 (normal) or 1 (anomaly)")
    if y.min(initial=1) == y.max(initial=0) or len(y) == 0:
        raise ValueError("an AUC needs both normal (0) and anomalous (1) samples")
    return y, s


def roc_curve(y_true, score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), starting at (0, 0); tied scores form one step, as in sklearn."""
    y, s = _check(y_true, score)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    fpr = np.r_[0.0, fps / fps[-1]]
    tpr = np.r_[0.0, tps / tps[-1]]
    return fpr, tpr, np.r_[np.inf, s[last_of_tie]]


def roc_auc(y_true, score) -> float:
    """Area under the ROC curve."""
    fpr, tpr, _ = roc_curve(y_true, score)
    return float(np.trapezoid(tpr, fpr))


def partial_auc(y_true, score, max_fpr: float = 0.1) -> float:
    """McClish-standardised area under the ROC curve for FPR in [0, max_fpr] (sklearn's max_fpr)."""
    if not 0 < max_fpr <= 1:
        raise ValueError(f"max_fpr must be in (0, 1], got {max_fpr}")
    fpr, tpr, _ = roc_curve(y_true, score)
    if max_fpr == 1:
        return float(np.trapezoid(tpr, fpr))
    stop = np.searchsorted(fpr, max_fpr, side="right")
    x, y = fpr[:stop], tpr[:stop]
    # close the area at exactly max_fpr by interpolating the curve's segment that crosses it
    tpr_at = np.interp(max_fpr, fpr[stop - 1 : stop + 1], tpr[stop - 1 : stop + 1])
    area = np.trapezoid(np.r_[y, tpr_at], np.r_[x, max_fpr])
    min_area, max_area = 0.5 * max_fpr**2, max_fpr
    return float(0.5 * (1 + (area - min_area) / (max_area - min_area)))


def auc_by_group(
    y_true: Sequence[int], score: Sequence[float], groups: Sequence[str], max_fpr: float = 0.1
) -> dict[str, dict]:
    """AUC and pAUC per group (e.g. machine id) and their means over groups that hold both labels.

    A group with a single label has no AUC: it is listed with `auc: None` and a reason."""
    y, s, g = np.asarray(y_true).astype(int), np.asarray(score, np.float64), np.asarray(groups)
    per_group: dict[str, dict] = {}
    for name in sorted(set(g.tolist())):
        mask = g == name
        entry: dict = {"n_normal": int((y[mask] == 0).sum()), "n_anomaly": int((y[mask] == 1).sum())}
        if entry["n_normal"] and entry["n_anomaly"]:
            entry.update(auc=roc_auc(y[mask], s[mask]), pauc=partial_auc(y[mask], s[mask], max_fpr))
        else:
            entry.update(auc=None, pauc=None, reason="needs both normal and anomalous clips")
        per_group[name] = entry
    scored = [e for e in per_group.values() if e["auc"] is not None]
    mean = {
        "auc": float(np.mean([e["auc"] for e in scored])) if scored else None,
        "pauc": float(np.mean([e["pauc"] for e in scored])) if scored else None,
        "n_groups": len(scored),
    }
    return {"per_group": per_group, "mean": mean, "max_fpr": max_fpr}


MIN_CLIPS_PER_CLASS = 10  # below this per machine id, one clip moves the AUC by >= 0.1: not a quality number


def auc_unmeasurable_reason(auc: Mapping, min_per_class: int = MIN_CLIPS_PER_CLASS) -> str | None:
    """Why the AUC of `auc_by_group(...)` says nothing about detection quality, or None when every
    machine id holds at least `min_per_class` normal and `min_per_class` anomalous clips."""
    groups = auc["per_group"]
    n_normal = sum(e["n_normal"] for e in groups.values())
    n_anomaly = sum(e["n_anomaly"] for e in groups.values())
    short = sorted(g for g, e in groups.items() if min(e["n_normal"], e["n_anomaly"]) < min_per_class)
    if groups and not short:
        return None
    where = f"; too few in {', '.join(short)}" if len(groups) > 1 else ""
    return (f"{n_normal + n_anomaly} clips ({n_normal} normal, {n_anomaly} anomalous{where}): AUC needs "
            f">= {min_per_class} normal and >= {min_per_class} anomalous clips per machine id")


def plot_roc(
    curves: Mapping[str, tuple[Sequence[int], Sequence[float]]], path: str | os.PathLike, title: str = "",
    max_fpr: float = 0.1,
) -> Path:
    """One ROC curve per entry `label -> (y_true, score)`, AUC in the legend; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.atomic import save_figure

    fig, ax = plt.subplots(figsize=(5, 5))
    for label, (y, s) in curves.items():
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, drawstyle="steps-post", label=f"{label} (AUC {roc_auc(y, s):.3f}, n={len(y)})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.axvline(max_fpr, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=7)
    return save_figure(fig, path)
