"""How the autoencoder is scored: clip scores, the headline the data can measure, its report keys and plots.

A clip's score is the mean squared reconstruction error averaged over its 640-d vectors. With at
least 10 normal and 10 anomalous clips per machine id, the headline is the mean AUC over machine ids
(DCASE 2020 Task 2 / MLPerf Tiny); otherwise it is what a few clips do measure: the largest relative
deviation of int8 clip scores from float ones on the clips that did not calibrate
(`common.evaluation.metrics.anomaly.auc_unmeasurable_reason`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from common.data.calibration import sample_features
from common.evaluation.metrics.anomaly import auc_by_group, auc_unmeasurable_reason, plot_roc
from models.autoencoder.features import LABELS, MACHINE_TYPE, to_vectors
from models.autoencoder.recipe import AUC

CHUNK_CLIPS = 64  # clips scored per predict call (bounds memory on the full test set)
MAX_FPR = 0.1
NAMES = {"int8": "model", "float": "float", "efinix_autoencoder": "reference_int8"}  # the report's clip columns


def clip_scores(predict: Callable[[np.ndarray], np.ndarray], log_mels, items=None) -> np.ndarray:
    """Per clip: mean over its vectors of the mean squared reconstruction error."""
    scores = []
    for start in range(0, len(log_mels), CHUNK_CLIPS):
        vectors = [to_vectors(m) for m in log_mels[start:start + CHUNK_CLIPS]]
        x = np.concatenate(vectors).astype(np.float32)
        out = predict(x)
        err = np.mean(np.square(x - np.asarray(out[0] if isinstance(out, list) else out)), axis=1)
        bounds = np.cumsum([0] + [len(v) for v in vectors])
        scores += [float(err[a:b].mean()) for a, b in zip(bounds[:-1], bounds[1:])]
    return np.asarray(scores)


def calibration_vectors(items, n: int, seed: int):
    """`n` seeded 640-d vectors of the calibrating clips (in file order), and those clips."""
    picked = np.concatenate([to_vectors(m) for m in items.x])
    (vectors,) = sample_features(picked, n, seed)
    return vectors.astype(np.float32), items


def golden(items, n: int) -> np.ndarray:
    """The first `n` vectors of the first scored clip: what the deployment kit's golden samples run."""
    return to_vectors(items.x[0])[:n].astype(np.float32)


def metric_choice(recipe, items):
    """The mean AUC when every machine id holds enough clips for it to mean something, else the
    deviation of int8 from float clip scores."""
    labels, ids = np.asarray(items.y), items.columns["machine_id"]
    counts = auc_by_group(labels, np.zeros(len(labels)), ids) if len(set(labels.tolist())) == 2 else None
    if counts is not None and auc_unmeasurable_reason(counts) is None:
        return AUC
    return recipe.metric


def with_groups(truth, scores, items) -> list[tuple[int, str, float]]:
    """(label, machine id, score) per clip: the AUC metric's items."""
    return [(int(t), m, float(s)) for t, m, s in zip(truth, items.columns["machine_id"], scores)]


def mean_auc(values) -> float:
    labels, ids, scores = zip(*values)
    mean = auc_by_group(labels, scores, ids, MAX_FPR)["mean"]["auc"]
    return float("nan") if mean is None else mean


def deviation(float_scores, scores, items=None) -> np.ndarray:
    """|int8 / float - 1| per clip."""
    return np.abs(np.asarray(scores) / np.asarray(float_scores) - 1)


def largest(values) -> float:
    return float(np.max(values))


def machine_type(items) -> str:
    """What the clips are of: a folder's machine (its DCASE machine folder, else its name), else ToyCar."""
    return (items.columns.get("machine_type") or [MACHINE_TYPE])[0]


def _what(items) -> str:
    """The scored clips in a plot title: their source, led by their machine unless it names it."""
    machine = machine_type(items)
    return items.source if items.source.startswith(machine) else f"{machine}: {items.source}"


def auc_missing_reason(auc: dict) -> str | None:
    """Why no AUC at all: no machine id holds both normal and anomalous scored clips."""
    if auc["mean"]["auc"] is not None:
        return None
    groups = auc["per_group"].values()
    n_normal, n_anomaly = sum(e["n_normal"] for e in groups), sum(e["n_anomaly"] for e in groups)
    return (f"the scored clips are {n_normal} normal and {n_anomaly} anomalous"
            f"{' (none of both kinds in one machine id)' if n_normal and n_anomaly else ''}: an AUC needs both")


def _auc(ev, label: str) -> dict:
    return auc_by_group(np.asarray(ev.items.y), ev.outputs[label], ev.items.columns["machine_id"], MAX_FPR)


def extras(ev) -> dict:
    """The clip table, the AUCs (every clip), the int8-vs-float deviations and what the data cannot measure."""
    items, keep = ev.items, ev.keep
    shown = {label: NAMES.get(label, label) for label in ev.outputs if label != "int8_litert"}
    rows = []
    for i, f in enumerate(items.ids):
        row = {"file": f, "label": LABELS[int(items.y[i])], "machine_id": items.columns["machine_id"][i],
               "n_vectors": int(len(items.x[i]) - 4)}
        row.update({f"score_{name}": float(ev.outputs[label][i]) for label, name in shown.items()})
        rows.append(row)
    out: dict = {"clips": rows, "models": {NAMES.get(k, k): str(ev.paths[k]) for k in shown},
                 "auc": {name: _auc(ev, label) for label, name in shown.items()}}
    if "float" in ev.outputs:
        for label, name in shown.items():
            if label == "float":
                continue
            rel = np.asarray(ev.outputs[label]) / np.asarray(ev.outputs["float"]) - 1
            out[f"{name}_vs_float"] = {
                "max_abs_rel_diff": float(np.abs(rel).max()),
                "rel_diff": [float(r) for r in rel],
                "same_ranking": bool(np.array_equal(np.argsort(ev.outputs[label]), np.argsort(ev.outputs["float"]))),
                "held_out_files": [f for f, k in zip(items.ids, keep) if k],
                "held_out_max_abs_rel_diff": float(np.abs(rel[keep]).max()),
            }
    why_not = None if ev.metric is AUC else (auc_missing_reason(out["auc"]["model"])
                                             or auc_unmeasurable_reason(out["auc"]["model"]))
    out["not_measured"] = [{"metric": "AUC", "reason": why_not}] if why_not else []
    return out


def score_tables(ev, out_dir: str | os.PathLike) -> dict[str, Path]:
    """`anomaly_score_<machine>_id_XX.csv` per machine id (DCASE's format): `<file>\\t<score>` of ours int8."""
    from common.atomic import atomic_path

    written = {}
    ids = ev.items.columns["machine_id"]
    for machine_id in sorted(set(ids)):
        path = Path(out_dir) / f"anomaly_score_{machine_type(ev.items)}_{machine_id}.csv"
        lines = [f"{f}\t{s:.6f}" for f, m, s in zip(ev.items.ids, ids, ev.outputs["int8"]) if m == machine_id]
        with atomic_path(path) as tmp:
            tmp.write_text("\n".join(lines) + "\n")
        written[path.stem] = path
    return written


def roc(ev, out_dir: str | os.PathLike) -> dict[str, Path]:
    """ROC curves per model and machine id, where the clips allow an AUC at all."""
    labels, ids = np.asarray(ev.items.y), np.asarray(ev.items.columns["machine_id"])
    curves = {}
    for label in ev.outputs:
        for machine_id in sorted(set(ids.tolist())):
            mask = ids == machine_id
            if len(set(labels[mask].tolist())) == 2:
                curves[f"{ev.display_name(label)} {machine_id}"] = (labels[mask], np.asarray(ev.outputs[label])[mask])
    if not curves:
        return {}
    return {"roc": plot_roc(curves, Path(out_dir) / "roc.png", title=_what(ev.items),
                            max_fpr=MAX_FPR)}


def scores_vs_float(ev, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Each clip's int8 (and reference) score against its float score; the diagonal = no quantization
    error. Shows at a glance how far quantization noise pushes the reconstruction error up."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.atomic import save_figure

    if "float" not in ev.outputs:
        return {}
    x = np.asarray(ev.outputs["float"])
    labels = np.asarray(ev.items.y)
    fig, ax = plt.subplots(figsize=(5, 5))
    for label, marker in (("int8", "o"), *((r.label, "s") for r in ev.competitors)):
        for value, colour in ((0, "tab:blue"), (1, "tab:red")):
            sel = labels == value
            ax.scatter(x[sel], np.asarray(ev.outputs[label])[sel], marker=marker, color=colour, alpha=0.7,
                       label=f"{ev.display_name(label)}: {LABELS[value]}")
    lo, hi = ax.get_xlim()[0], ax.get_ylim()[1]
    ax.plot([lo, hi], [lo, hi], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("float score (mean squared reconstruction error)")
    ax.set_ylabel("int8 score")
    ax.set_title(f"{_what(ev.items)}: int8 vs float, per clip", fontsize=9)
    ax.legend(fontsize=7)
    return {"scores_int8_vs_float": save_figure(fig, Path(out_dir) / "scores_int8_vs_float.png")}
