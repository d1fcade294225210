"""Quality metrics shared by the zoo's models: classification here; detection, anomaly and landmark
metrics in sibling modules (`common.evaluation.metrics.<kind>`)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Top-1 accuracy; `y_pred` is either class ids or per-class scores (N, C)."""
    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred)
    if y_pred.ndim > 1:
        y_pred = y_pred.argmax(axis=-1)
    if len(y_true) == 0:
        raise ValueError("accuracy of an empty set")
    return float(np.mean(y_true == y_pred.reshape(-1)))


def correct(truth, outputs, items=None) -> np.ndarray:
    """Per item: is the top-1 class of `outputs` (class ids or per-class scores) the label `truth`?"""
    outputs = np.asarray(outputs)
    predicted = outputs.argmax(axis=-1) if outputs.ndim > 1 else outputs
    return predicted.reshape(-1) == np.asarray(truth).reshape(-1)


def classification_extras(ev) -> dict:
    """Per-class accuracy and confusion matrix of ours (int8) and of each reference on the scored items."""
    names = ev.class_names
    truth = np.asarray(ev.truth(ev.keep))
    counts = np.bincount(truth.astype(np.int64), minlength=len(names))
    out: dict = {"class_names": list(names), "label_counts": {n: int(c) for n, c in zip(names, counts)}}
    for label in ["int8", *(r.label for r in ev.competitors)]:
        cm = confusion_matrix(truth, ev.held_out(label), len(names))
        out[label if label == "int8" else f"reference_{label}"] = {
            "per_class_accuracy": per_class_accuracy(cm, names), "confusion_matrix": cm.tolist()}
    return {"classes": out}


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class."""
    y_pred = np.asarray(y_pred)
    if y_pred.ndim > 1:
        y_pred = y_pred.argmax(axis=-1)
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true).reshape(-1), y_pred.reshape(-1)), 1)
    return cm


def per_class_accuracy(cm: np.ndarray, class_names: Sequence[str]) -> dict[str, float | None]:
    totals = cm.sum(axis=1)
    return {
        name: (float(cm[i, i] / totals[i]) if totals[i] else None) for i, name in enumerate(class_names)
    }


def plot_confusion_matrix(cm: np.ndarray, class_names: Sequence[str], path: str | os.PathLike, title: str = "") -> Path:
    """Write a confusion-matrix PNG (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.atomic import save_figure

    size = max(4.0, 0.5 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names, rotation=60, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if cm[i, j] > threshold else "black")
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"{title} (top-1 {acc:.2%}, n={cm.sum()})".strip())
    return save_figure(fig, path)
