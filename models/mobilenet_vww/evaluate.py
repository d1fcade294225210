"""Person / no-person accuracy of a VWW model (.keras, .h5 or .tflite) on VWW-labelled images.

The model's input decides the colour path: 96x96x1 models get grayscale images, 96x96x3 models
(the MLPerf Tiny reference `vww_96_int8.tflite`) RGB; both get the same antialiased bilinear resize
to 96x96, pixels/255, the same labels, and person = output 1. Prints one JSON line.

    python -m models.mobilenet_vww.evaluate --model build/mobilenet_vww/model.tflite \\
        --data-dir ../shared/data/coco128_person
    python -m models.mobilenet_vww.evaluate --model mlperf_vww96_int8 --data-dir ../shared/data/coco128_person
    python -m models.mobilenet_vww.evaluate --model build/mobilenet_vww/model.tflite \\
        --float-model build/mobilenet_vww/model.keras --report build/mobilenet_vww/report.json \\
        --data-dir ../shared/data/coco128_person --reference mlperf_vww96_int8 --plots-dir build/mobilenet_vww
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from common import env  # noqa: F401
from common.cli import ArgumentParser, add_data_args, user_errors_as_one_line
from common.evaluation.models import as_numpy, check_model_files, held_out_mask, load_predictor, require_input_shape, require_int8_tflite
from common.evaluation.metrics import accuracy, confusion_matrix, per_class_accuracy, plot_confusion_matrix
from common.pipeline.cards import NONE, load_card, resolve_reference
from models.mobilenet_vww.data import CLASS_NAMES, FOLDER_HELP, TFDS_NAME, load_arrays, load_folder
from models.mobilenet_vww.model import INPUT_SHAPE

MAX_TFLITE_BYTES = 300_568  # the Efinix reference mobilenetv1_person_detect.tflite
CARD = load_card("mobilenet_vww")

ACCEPTED_SHAPES = ((*INPUT_SHAPE[:2], 1), (*INPUT_SHAPE[:2], 3))  # gray (ours) or RGB (MLPerf's reference)
DATA = "the VWW images"


def input_channels(path: str | os.PathLike) -> int:
    """1 or 3; a model of another input shape is a ModelFileError."""
    return int(require_input_shape(path, *ACCEPTED_SHAPES, data=DATA)[-1])


def scored_arrays(split: str, data_dir: str | os.PathLike | None, tfds_dir: str | os.PathLike | None,
                  color: str, held_out_from: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, int, list[dict]]:
    """Images and labels to score without the folder images that calibrated `held_out_from`, how
    many were left out, and the unreadable images skipped."""
    if not data_dir:
        x, y = load_arrays(split, tfds_dir=tfds_dir, color=color)
        return x, y, 0, []
    data = load_folder(data_dir, color, split)
    skipped = [{"file": f, "error": "unreadable image"} for f in data.skipped]
    mask = held_out_mask(data.files, held_out_from, data_dir)
    if mask is None:
        return data.x, data.y, 0, skipped
    return data.x[mask], data.y[mask], int((~mask).sum()), skipped


def evaluate(
    model_path: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    split: str | None = None,
    tfds_dir: str | os.PathLike | None = None,
    confusion_png: str | os.PathLike | None = None,
    held_out_from: str | os.PathLike | None = None,
) -> dict:
    """Accuracy, per-class accuracy and confusion matrix of any model file with the VWW interface.

    With a folder, the images that calibrated `held_out_from` (default: the model itself) are left
    out, so a file is never scored on its own calibration images."""
    model_path = resolve_reference(model_path)
    color = "gray" if input_channels(model_path) == 1 else "rgb"
    split = split or ("all" if data_dir else "validation")
    x, y, excluded, skipped = scored_arrays(split, data_dir, tfds_dir, color, held_out_from or model_path)
    pred = as_numpy(load_predictor(model_path)(x))
    cm = confusion_matrix(y, pred, len(CLASS_NAMES))
    if confusion_png:
        plot_confusion_matrix(cm, CLASS_NAMES, confusion_png, title=f"{model_path.name} ({color})")
    return {
        "model": str(model_path),
        "input": color,
        "data": str(data_dir) if data_dir else f"tfds coco/2017 {split}",
        "split": split,
        "n": int(len(y)),
        "excluded_calibration_images": excluded,
        "skipped_files": skipped,
        "label_counts": {name: int(c) for name, c in zip(CLASS_NAMES, np.bincount(y, minlength=2))},
        "correct": int(cm.trace()),
        "accuracy": accuracy(y, pred),
        "per_class_accuracy": per_class_accuracy(cm, CLASS_NAMES),
        "confusion_matrix": cm.tolist(),
    }


def plot_accuracies(values: dict[str, float], path: str | os.PathLike, title: str) -> Path:
    """Bar chart of accuracies (ours float/int8 beside the reference), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.atomic import save_figure

    fig, ax = plt.subplots(figsize=(6, 3.5))
    bars = ax.bar(list(values), [100 * v for v in values.values()], color=["#4c72b0", "#55a868", "#c44e52"][: len(values)])
    ax.bar_label(bars, fmt="%.2f%%")
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def validate_artifacts(
    keras_path: str | os.PathLike,
    tflite_path: str | os.PathLike,
    report_path: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    split: str | None = None,
    tfds_dir: str | os.PathLike | None = None,
    reference: str | os.PathLike | None = None,
    plots_dir: str | os.PathLike | None = None,
) -> dict:
    """Float vs int8 on the same grayscale images (-> report.json), with the RGB reference scored
    by the same code on the same images and labels."""
    from common.graph.keras_io import load_model
    from common.evaluation.validate import validate

    require_int8_tflite(tflite_path)
    check_model_files(tflite_path, ACCEPTED_SHAPES[0], float_model=keras_path, data="the gray VWW images")
    if reference:
        require_int8_tflite(resolve_reference(reference), "--reference")
    split = split or ("all" if data_dir else "validation")
    data_name = Path(data_dir).name if data_dir else f"coco/2017 {split}"
    plots = Path(plots_dir) if plots_dir else None
    ours = evaluate(tflite_path, data_dir=data_dir, split=split, tfds_dir=tfds_dir,
                    confusion_png=plots / "confusion_int8.png" if plots else None)
    held_out = f", {ours['n']} images not used for calibration" if ours["excluded_calibration_images"] else ""
    extra = {"eval": {k: v for k, v in ours.items() if k != "model"}, "max_tflite_bytes": MAX_TFLITE_BYTES,
             "skipped_files": ours["skipped_files"]}
    if reference:
        ref = evaluate(reference, data_dir=data_dir, split=split, tfds_dir=tfds_dir, held_out_from=tflite_path,
                       confusion_png=plots / "confusion_reference.png" if plots else None)
        extra["reference"] = ref
    x, y, _, _ = scored_arrays(split, data_dir, tfds_dir, "gray", tflite_path)
    report = validate(
        model_name="mobilenet_vww",
        keras_model=load_model(keras_path),
        tflite_path=tflite_path,
        x=x,
        y=y,
        metric_fn=accuracy,
        metric_name=f"vww_accuracy ({data_name}{held_out})",
        report_path=report_path,
        extra=extra,
    )
    if plots:
        values = {"ours float (gray)": report["metric_float"], "ours int8 (gray)": report["metric_int8"]}
        if reference:
            values["MLPerf int8 (RGB)"] = extra["reference"]["accuracy"]
        plot_accuracies(values, plots / "accuracy.png", f"VWW accuracy on {data_name} (n={len(y)})")
    return report


@user_errors_as_one_line()
def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True,
                        help=".keras, .h5 or .tflite model (96x96x1 or 96x96x3), or a registered name")
    add_data_args(parser, folder=FOLDER_HELP, tfds=TFDS_NAME, tfds_help=f"holds {TFDS_NAME} (scored: validation)")
    parser.add_argument("--split", help="'all' (default) or e.g. 'all[50%%:]' of --data-dir, or a TFDS split")
    parser.add_argument("--confusion-png", help="write the confusion matrix as a PNG")
    parser.add_argument("--float-model", help="also compare with this float .keras model ...")
    parser.add_argument("--report", help="... and write the comparison to this report.json")
    parser.add_argument("--reference", default=CARD.reference,
                        help="with --report: also score this model (path or registered name) on the same images "
                             f"(default: {CARD.reference}, the model card's; '{NONE}' to skip)")
    parser.add_argument("--plots-dir", help="with --report: write confusion and accuracy PNGs here")
    args = parser.parse_args(argv)
    if args.reference == NONE:
        args.reference = None
    if bool(args.float_model) != bool(args.report):
        parser.error("--float-model and --report go together")
    check_model_files(resolve_reference(args.model), *ACCEPTED_SHAPES, int8=bool(args.report), float_model=args.float_model,
                      data=DATA)
    if args.report:
        report = validate_artifacts(args.float_model, args.model, args.report, data_dir=args.data_dir,
                                    split=args.split, tfds_dir=args.tfds_dir, reference=args.reference,
                                    plots_dir=args.plots_dir)
        result = {**report["eval"], "model": args.model}
        result.update({k: report[k] for k in ("metric_float", "metric_int8", "drop", "size_bytes", "all_int8")})
        if "reference" in report:
            result["reference_accuracy"] = report["reference"]["accuracy"]
    else:
        result = evaluate(args.model, data_dir=args.data_dir, split=args.split, tfds_dir=args.tfds_dir,
                          confusion_png=args.confusion_png)
    result.pop("confusion_matrix", None)
    print(json.dumps(result))


if __name__ == "__main__":
    from common.cli import run

    run(main)
