"""Anomaly scores, AUC and pAUC of an autoencoder (.keras, .h5 or .tflite) on ToyCar clips.

A clip's score is the mean squared reconstruction error averaged over its 640-d vectors; AUC and
pAUC (FPR <= 0.1) are computed per machine id and averaged (DCASE 2020 Task 2 / MLPerf Tiny).

    python -m models.autoencoder.evaluate --model build/autoencoder/model.tflite --tfds-dir build/autoencoder/tfds
    python -m models.autoencoder.evaluate --model build/autoencoder/model.tflite \\
        --float-model build/autoencoder/model.keras --report build/autoencoder/report.json \\
        --tfds-dir build/autoencoder/tfds --roc-png build/autoencoder/roc.png
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from common import env  # noqa: F401
from common.atomic import atomic_path, write_json, save_figure
from common.cli import ArgumentParser, add_data_args, user_errors_as_one_line
from common.evaluation.models import as_numpy, check_model_files, load_predictor, require_int8_tflite
from common.pipeline.cards import NONE, load_card, resolve_reference
from common.evaluation.metrics.anomaly import auc_by_group, auc_unmeasurable_reason, plot_roc
from common.evaluation.validate import GOLDEN_INPUTS, save_golden_inputs
from models.autoencoder.data import DATASET, FOLDER_HELP, Clips, load_clips, prepare
from models.autoencoder.features import DIMS, MACHINE_TYPE

DATA = "the log-mel vectors"

EVAL_SPLIT = "test"
MAX_FPR = 0.1
CARD = load_card("autoencoder")
REFERENCE = CARD.reference
CHUNK_CLIPS = 64  # clips scored per predict call (bounds memory on the full test set)


def clip_scores(predict: Callable[[np.ndarray], np.ndarray], clips: Clips) -> np.ndarray:
    """Per clip: mean over its vectors of the mean squared reconstruction error."""
    scores = []
    for start in range(0, len(clips), CHUNK_CLIPS):
        idx = range(start, min(start + CHUNK_CLIPS, len(clips)))
        vectors = [clips.vectors(i) for i in idx]
        x = np.concatenate(vectors).astype(np.float32)
        err = np.mean(np.square(x - as_numpy(predict(x))), axis=1)
        bounds = np.cumsum([0] + [len(v) for v in vectors])
        scores += [float(err[a:b].mean()) for a, b in zip(bounds[:-1], bounds[1:])]
    return np.asarray(scores)


def write_score_csvs(clips: Clips, scores: np.ndarray, folder: str | os.PathLike) -> list[Path]:
    """`anomaly_score_ToyCar_id_XX.csv` per machine id: `<file>\\t<score>` per line."""
    paths = []
    for machine_id in sorted(set(clips.machine_ids)):
        path = Path(folder) / f"anomaly_score_{MACHINE_TYPE}_{machine_id}.csv"
        lines = [f"{f}\t{s:.6f}" for f, m, s in zip(clips.files, clips.machine_ids, scores) if m == machine_id]
        with atomic_path(path) as tmp:
            tmp.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def plot_scores_vs_float(result: dict, path: str | os.PathLike) -> Path:
    """Each clip's int8 (and reference) score against its float score; the diagonal = no quantization
    error. Shows at a glance how far quantization noise pushes the reconstruction error up."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["clips"]
    x = np.array([r["score_float"] for r in rows])
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, marker in (("model", "o"), ("reference_int8", "s")):
        if f"score_{name}" not in rows[0]:
            continue
        for label, color in (("normal", "tab:blue"), ("anomaly", "tab:red")):
            sel = [i for i, r in enumerate(rows) if r["label"] == label]
            y = [rows[i][f"score_{name}"] for i in sel]
            shown = Path(result["models"][name]).name
            ax.scatter(x[sel], y, marker=marker, color=color, alpha=0.7, label=f"{shown}: {label}")
    lo, hi = ax.get_xlim()[0], ax.get_ylim()[1]
    ax.plot([lo, hi], [lo, hi], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("float score (mean squared reconstruction error)")
    ax.set_ylabel("int8 score")
    ax.set_title(f"{MACHINE_TYPE} {result['split']}: int8 vs float, per clip")
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def _reference_path(reference: str | None) -> Path | None:
    """The reference file, or None (asked for none, or a registered file that is nowhere local)."""
    from common.data.weights import WeightsNotFoundError

    if not reference or reference == NONE:
        return None
    try:
        return resolve_reference(reference)
    except WeightsNotFoundError as exc:
        print(f"reference model skipped: {exc}")
        return None


def calibration_clips(model_path: str | os.PathLike, split: str) -> set[str]:
    """The clips of `split` whose vectors calibrated `model_path` (from its `.quant.json`)."""
    from common.evaluation.validate import read_quantization_metadata

    if not str(model_path).endswith(".tflite"):
        return set()
    meta = read_quantization_metadata(model_path)
    if not str(meta.get("calibration_split", "")).startswith(f"{split} "):
        return set()
    return set(meta.get("calibration_files", []))


def evaluate(
    model_path: str | os.PathLike,
    *,
    float_model: str | os.PathLike | None = None,
    reference: str | None = REFERENCE,
    split: str = EVAL_SPLIT,
    tfds_dir: str | os.PathLike | None = None,
    scores_dir: str | os.PathLike | None = None,
    roc_png: str | os.PathLike | None = None,
    scores_png: str | os.PathLike | None = None,
    max_fpr: float = MAX_FPR,
    golden_path: str | os.PathLike | None = None,
) -> dict:
    """Score every clip with `model_path` (and the float model and reference file when given).
    `golden_path`: also keep the first clip's 640-d vectors there for the deployment kit."""
    check_model_files(model_path, (DIMS,), float_model=float_model, data=DATA)
    ref = _reference_path(reference)
    if ref is not None:
        require_int8_tflite(ref, "--reference")
    clips = load_clips(split, tfds_dir=tfds_dir)
    if not len(clips):
        raise ValueError(f"the {split!r} split holds no usable clips (problems: {clips.problems})")
    if golden_path:
        save_golden_inputs(clips.vectors(0).astype(np.float32), Path(golden_path))
    models = {"model": Path(model_path)}
    if float_model:
        models["float"] = Path(float_model)
    if ref is not None:
        models["reference_int8"] = ref
    scores = {name: clip_scores(load_predictor(path), clips) for name, path in models.items()}
    auc = {name: auc_by_group(clips.labels, s, clips.machine_ids, max_fpr) for name, s in scores.items()}
    rows = []
    for i, f in enumerate(clips.files):
        row = {"file": f, "label": ("normal", "anomaly")[clips.labels[i]], "machine_id": clips.machine_ids[i],
               "n_vectors": int(len(clips.log_mels[i]) - 4)}
        row.update({f"score_{name}": float(s[i]) for name, s in scores.items()})
        rows.append(row)
    result = {
        "model": str(model_path),
        "split": split,
        "n_clips": len(clips),
        "clips": rows,
        "auc": auc,
        "problems": clips.problems,
        "models": {name: str(p) for name, p in models.items()},
    }
    calibrated = calibration_clips(model_path, split)
    held_out = np.array([f not in calibrated for f in clips.files])
    result["calibration_files"] = sorted(calibrated)
    if "float" in scores:
        for name in ("model", "reference_int8"):
            if name in scores:
                rel = scores[name] / scores["float"] - 1
                result[f"{name}_vs_float"] = {
                    "max_abs_rel_diff": float(np.abs(rel).max()),
                    "rel_diff": [float(r) for r in rel],
                    "same_ranking": bool(np.array_equal(np.argsort(scores[name]), np.argsort(scores["float"]))),
                    "held_out_files": [f for f, keep in zip(clips.files, held_out) if keep],
                    "held_out_max_abs_rel_diff": float(np.abs(rel[held_out]).max()) if held_out.any() else None,
                }
    if scores_dir:
        result["score_csvs"] = [str(p) for p in write_score_csvs(clips, scores["model"], scores_dir)]
    if roc_png and auc["model"]["mean"]["auc"] is not None:
        curves = {}
        for name, s in scores.items():
            for machine_id in sorted(set(clips.machine_ids)):
                mask = np.asarray(clips.machine_ids) == machine_id
                if auc[name]["per_group"][machine_id]["auc"] is not None:
                    curves[f"{name} {machine_id}"] = (np.asarray(clips.labels)[mask], s[mask])
        plot_roc(curves, roc_png, title=f"{MACHINE_TYPE} {split}: {Path(model_path).name}", max_fpr=max_fpr)
        result["roc_png"] = str(roc_png)
    if scores_png and "float" in scores:
        result["scores_png"] = str(plot_scores_vs_float(result, scores_png))
    return result


def headline(result: dict) -> dict:
    """The report's metric keys. The mean AUC when every machine id has enough clips for it to mean
    something; otherwise the int8-vs-float clip score deviation on the clips that did not calibrate
    (what the data does measure), with the AUC listed under `not_measured` and the reason."""
    mean = {name: a["mean"] for name, a in result["auc"].items()}
    why_not = auc_unmeasurable_reason(result["auc"]["model"])
    if why_not is None:
        metric_float, metric_int8 = mean.get("float", {}).get("auc"), mean["model"]["auc"]
        return {"metric": f"mean AUC over machine ids ({MACHINE_TYPE} {result['split']}, clip score = mean squared "
                          "reconstruction error)",
                "higher_is_better": True, "metric_float": metric_float, "metric_int8": metric_int8,
                "drop": None if metric_float is None or metric_int8 is None else metric_float - metric_int8,
                "not_measured": []}
    deviation = result["model_vs_float"]
    held_out = deviation["held_out_max_abs_rel_diff"]
    n = len(deviation["held_out_files"]) if held_out is not None else result["n_clips"]
    which = "held-out clips (not used for calibration)" if held_out is not None else "clips (none held out)"
    metric_int8 = held_out if held_out is not None else deviation["max_abs_rel_diff"]
    return {"metric": f"max |int8/float - 1| of clip scores, {n} {which}, {MACHINE_TYPE} {result['split']}",
            "higher_is_better": False, "metric_float": 0.0, "metric_int8": metric_int8, "drop": metric_int8,
            "not_measured": [{"metric": "AUC", "reason": why_not}]}


def write_report(result: dict, tflite_path: str | os.PathLike, report_path: str | os.PathLike) -> dict:
    """report.json in the zoo's shape: the headline metric float vs int8 (`headline`), the AUCs, plus
    the .tflite summary."""
    from common.evaluation.validate import build_report

    require_int8_tflite(tflite_path)
    top = headline(result)
    report = build_report(
        model_name="autoencoder", metric_name=top.pop("metric"), higher_is_better=top.pop("higher_is_better"),
        metric_float=top.pop("metric_float"), metric_int8=top.pop("metric_int8"), drop=top.pop("drop"),
        n_eval=result["n_clips"], tflite_path=tflite_path,
        extra={**top, **{k: v for k, v in result.items() if k != "model"},
               "skipped_files": [{"file": p["file"], "error": p["reason"]} for p in result["problems"]
                                 if p.get("action") == "skipped"]},
    )
    write_json(report_path, report)
    return report


def _print(result: dict) -> None:
    names = list(result["models"])
    print("file".ljust(34) + "label    " + "".join(n.rjust(16) for n in names))
    for row in result["clips"]:
        print(row["file"].ljust(34) + row["label"].ljust(9) + "".join(f"{row['score_' + n]:16.4f}" for n in names))
    for name in names:
        a = result["auc"][name]
        for machine_id, e in a["per_group"].items():
            if e["auc"] is None:
                print(f"{name} {machine_id}: no AUC ({e['reason']}; {e['n_normal']} normal, {e['n_anomaly']} anomaly)")
            else:
                print(f"{name} {machine_id}: AUC {e['auc']:.4f}  pAUC {e['pauc']:.4f}")
        if a["mean"]["auc"] is not None:
            print(f"{name} mean over {a['mean']['n_groups']} ids: AUC {a['mean']['auc']:.4f}  pAUC {a['mean']['pauc']:.4f}")
    why_not = auc_unmeasurable_reason(result["auc"]["model"])
    if why_not:
        print(f"AUC n/a as a quality number: {why_not}")
    for key in ("model_vs_float", "reference_int8_vs_float"):
        if key in result:
            r = result[key]
            print(f"{key}: max |rel diff| {r['max_abs_rel_diff']:.4f}, same ranking {r['same_ranking']}")
    for p in result["problems"]:
        print(f"problem: {p['split']}/{p['file']} {p['action']}: {p['reason']}")


@user_errors_as_one_line()
def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help=".keras, .h5 or .tflite autoencoder (640-d in/out)")
    parser.add_argument("--float-model", help="also score this float .keras model (and compare) ...")
    parser.add_argument("--report", help="... and write report.json here (needs --model to be a .tflite)")
    parser.add_argument("--reference", default=REFERENCE,
                        help="reference model scored beside ours: a registered weights name or a path (default: "
                             f"{REFERENCE}, the model card's); '{NONE}' to skip")
    parser.add_argument("--split", default=EVAL_SPLIT)
    add_data_args(parser, folder=FOLDER_HELP, tfds=DATASET)
    parser.add_argument("--scores-dir", help="write anomaly_score_ToyCar_id_XX.csv files here "
                                             "(default: beside --report)")
    parser.add_argument("--roc-png", help="write the ROC curves as a PNG")
    parser.add_argument("--scores-png", help="write int8 vs float clip scores as a PNG (needs --float-model)")
    parser.add_argument("--max-fpr", type=float, default=MAX_FPR)
    args = parser.parse_args(argv)
    if args.report and not args.float_model:
        parser.error("--report needs --float-model")
    check_model_files(args.model, (DIMS,), int8=bool(args.report), float_model=args.float_model, data=DATA)
    if args.data_dir:
        prepare(args.data_dir, args.tfds_dir)
    scores_dir = args.scores_dir or (Path(args.report).parent if args.report else None)
    result = evaluate(args.model, float_model=args.float_model, reference=args.reference, split=args.split,
                      tfds_dir=args.tfds_dir, scores_dir=scores_dir, roc_png=args.roc_png,
                      scores_png=args.scores_png, max_fpr=args.max_fpr,
                      golden_path=Path(args.report).with_name(GOLDEN_INPUTS) if args.report else None)
    _print(result)
    if args.report:
        write_report(result, args.model, args.report)
        print(f"wrote {args.report}")


if __name__ == "__main__":
    from common.cli import run

    run(main)
