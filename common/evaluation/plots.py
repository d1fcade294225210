"""Plots every evaluation can draw, from its predictions (`plots(ev, out_dir) -> {name: path}`).

One naming for every model: `<plots dir>/<name>.png`, the name saying what and whose (`scores`,
`confusion_int8`, `confusion_<reference>`); a recipe lists the plots it wants (`Recipe.plots`)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common.atomic import save_figure

COLOURS = ("#4c72b0", "#55a868", "#8172b2", "#c44e52", "#dd8452", "#937860")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scores(ev, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Every model's score on the same items with its 95% interval and, for a reference, the paired
    verdict of ours against it: what "better than the reference" can mean at this n."""
    plt = _pyplot()
    metric = ev.metric
    labels = list(ev.scores)[::-1]  # ours int8 on top
    scale = 100.0 if metric.format in ("pct", "x100") else 1.0
    fig, ax = plt.subplots(figsize=(7.0, 0.55 * len(labels) + 1.4))
    for row, label in enumerate(labels):
        s = ev.scores[label]
        colour = COLOURS[(len(labels) - 1 - row) % len(COLOURS)]
        ax.errorbar(scale * s.value, row, xerr=[[scale * (s.value - s.low)], [scale * (s.high - s.value)]], fmt="o",
                    color=colour, capsize=4)
        ax.annotate(f"{scale * s.value:.2f} [{scale * s.low:.2f}, {scale * s.high:.2f}]", (scale * s.high, row),
                    xytext=(6, -3), textcoords="offset points", fontsize=7)
    names = []
    for label in labels:
        name = ev.display_name(label)
        if label in ev.verdicts:
            name += f"\n(ours int8: {ev.verdicts[label].verdict})"
        names.append(name)
    ax.set_yticks(range(len(labels)), names, fontsize=7)
    low, high = ax.get_xlim()
    ax.set_xlim(low, high + 0.45 * (high - low))  # room for the values
    unit = " (%)" if metric.format == "pct" else " (x100)" if metric.format == "x100" else ""
    ax.set_xlabel(f"{metric.name}{unit}, {'higher' if metric.higher_is_better else 'lower'} is better", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"{ev.recipe.name}: n={int(ev.keep.sum())} items ({ev.items.source}), 95% intervals", fontsize=8)
    return {"scores": save_figure(fig, Path(out_dir) / "scores.png")}


def confusion(ev, out_dir: str | os.PathLike) -> dict[str, Path]:
    """The confusion matrix of ours (int8) and of each reference on the scored items."""
    from common.evaluation.metrics import confusion_matrix, plot_confusion_matrix

    names = ev.class_names
    truth = ev.truth(ev.keep)
    out = {}
    for label in ["int8", *(r.label for r in ev.competitors)]:
        cm = confusion_matrix(np.asarray(truth), ev.held_out(label), len(names))
        name = f"confusion_{label}"
        out[name] = plot_confusion_matrix(cm, names, Path(out_dir) / f"{name}.png", title=ev.display_name(label))
    return out
