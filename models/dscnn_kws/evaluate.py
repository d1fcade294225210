"""Top-1 accuracy of a DS-CNN model (.keras, .h5 or .tflite) on Speech Commands; prints one JSON line.

    python -m models.dscnn_kws.evaluate --model build/dscnn_kws/model.tflite --data-dir DIR
    python -m models.dscnn_kws.evaluate --model ../shared/pretrained/efinix/ds_cnn_kws.tflite --data-dir DIR
    python -m models.dscnn_kws.evaluate --model build/dscnn_kws/model.tflite --data-dir DIR \\
        --float-model build/dscnn_kws/model.keras --report build/dscnn_kws/report.json \\
        --confusion-png build/dscnn_kws/confusion.png --reference efinix_dscnn

DIR is any folder in the Speech Commands layout (`<label>/<file>.wav|flac`): all its clips are scored,
or only those of testing_list.txt in a full v0.02 archive; without --data-dir the TFDS
speech_commands test split is used. Corrupt or empty files are reported by name, counted
("skipped") and left out; the run goes on. When the .tflite was calibrated on clips of the same
folder, the accuracy on the speakers not used for calibration is reported as well ("held_out").
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from common import env  # noqa: F401
from common.cli import ArgumentParser, add_data_args, user_errors_as_one_line
from common.evaluation.models import as_numpy, cached_predictions, check_model_files, load_predictor, require_input_shape, require_int8_tflite
from common.evaluation.metrics import accuracy, confusion_matrix, per_class_accuracy, plot_confusion_matrix
from common.graph.keras_io import load_model
from common.pipeline.cards import NONE, load_card, resolve_reference
from common.data.tfds import DatasetMissingError
from models.dscnn_kws.data import CLASS_NAMES, DATASET, FEATURE_SHAPE, FOLDER_HELP, FOLDER_HINT, Clips, DataLayoutError, load_arrays

DATA = "the MFCC features"
CARD = load_card("dscnn_kws")

EVAL_SPLIT = "test"


def held_out_mask(clips: Clips, model_path: str | os.PathLike, data_dir: str | os.PathLike | None) -> np.ndarray | None:
    """True for clips not used to calibrate `model_path` (None: not calibrated on this folder)."""
    from common.evaluation.models import held_out_mask as mask_of

    return mask_of(clips.files, model_path, data_dir)


def score(pred: np.ndarray, clips: Clips, held_out: np.ndarray | None = None) -> dict:
    cm = confusion_matrix(clips.y, pred, len(CLASS_NAMES))
    result = {
        "n": int(len(clips.y)),
        "correct": int(cm.trace()),
        "accuracy": accuracy(clips.y, pred),
        "per_class_accuracy": per_class_accuracy(cm, CLASS_NAMES),
        "confusion_matrix": cm.tolist(),
    }
    if held_out is not None and held_out.any():
        result["held_out"] = {"n": int(held_out.sum()), "accuracy": accuracy(clips.y[held_out], pred[held_out]),
                              "note": "clips of speakers not used for int8 calibration"}
    return result


def evaluate(
    model_path: str | os.PathLike,
    *,
    split: str = EVAL_SPLIT,
    data_dir: str | os.PathLike | None = None,
    tfds_dir: str | os.PathLike | None = None,
    confusion_png: str | os.PathLike | None = None,
    clips: Clips | None = None,
    held_out_from: str | os.PathLike | None = None,
) -> dict:
    """Accuracy, per-class accuracy and confusion matrix of any model file with the DS-CNN interface.

    `held_out_from`: the .tflite whose calibration clips define the held-out subset (default: the model)."""
    require_input_shape(model_path, FEATURE_SHAPE, data=DATA)
    clips = clips or load_arrays(split, data_dir=data_dir, tfds_dir=tfds_dir)
    pred = as_numpy(load_predictor(model_path)(clips.x))
    result = {"model": str(model_path), "data": str(data_dir) if data_dir else f"tfds speech_commands {split}",
              **score(pred, clips, held_out_mask(clips, held_out_from or model_path, data_dir)),
              "skipped": len(clips.skipped), "skipped_files": clips.skipped}
    if confusion_png:
        cm = np.asarray(result["confusion_matrix"])
        plot_confusion_matrix(cm, CLASS_NAMES, confusion_png, title=Path(model_path).name)
    return result


def validate_artifacts(
    keras_path: str | os.PathLike,
    tflite_path: str | os.PathLike,
    report_path: str | os.PathLike,
    *,
    split: str = EVAL_SPLIT,
    data_dir: str | os.PathLike | None = None,
    tfds_dir: str | os.PathLike | None = None,
    clips: Clips | None = None,
    reference: str | None = None,
) -> dict:
    """Float vs int8 on the same MFCCs -> report.json (+ held-out and reference-file accuracies)."""
    from common.evaluation.validate import validate

    require_int8_tflite(tflite_path)
    check_model_files(tflite_path, FEATURE_SHAPE, float_model=keras_path, data=DATA)
    if reference:
        require_int8_tflite(resolve_reference(reference), "--reference")
    clips = clips or load_arrays(split, data_dir=data_dir, tfds_dir=tfds_dir)
    keras_model = load_model(keras_path)
    extra: dict = {"data": str(data_dir) if data_dir else f"tfds speech_commands {split}",
                   "skipped": len(clips.skipped), "skipped_files": clips.skipped}
    # The headline is scored on the clips whose speakers did not calibrate the file; the whole
    # folder (calibration clips included) is kept beside it for comparison.
    mask = held_out_mask(clips, tflite_path, data_dir)
    if mask is not None:
        _, float_all = cached_predictions(("keras-object", id(keras_model)), clips.x,
                                          lambda x: (keras_model, keras_model.predict(x, batch_size=256, verbose=0)))
        int8 = evaluate(tflite_path, data_dir=data_dir, clips=clips)
        extra["held_out"] = {"n": int(mask.sum()), "metric_float": accuracy(clips.y[mask], float_all[mask]),
                             "metric_int8": int8["held_out"]["accuracy"],
                             "note": "clips of speakers not used for int8 calibration (the headline)"}
        extra["all_clips"] = {"n": int(len(clips.y)), "metric_float": accuracy(clips.y, float_all),
                              "metric_int8": int8["accuracy"],
                              "note": f"every clip of the folder, the {int((~mask).sum())} calibration clips included"}
    if reference:
        ref = evaluate(resolve_reference(reference), data_dir=data_dir, clips=clips, held_out_from=tflite_path)
        extra["reference"] = {"name": reference, "accuracy": ref["accuracy"], "n": ref["n"],
                              "size_bytes": Path(ref["model"]).stat().st_size,
                              **({"held_out_accuracy": ref["held_out"]["accuracy"]} if "held_out" in ref else {})}
    x, y = (clips.x, clips.y) if mask is None else (clips.x[mask], clips.y[mask])
    scored = f", {len(y)} clips of speakers not used for calibration" if mask is not None else ""
    return validate(
        model_name="dscnn_kws",
        keras_model=keras_model,
        tflite_path=tflite_path,
        x=x,
        y=y,
        metric_fn=accuracy,
        metric_name=f"top1_accuracy ({Path(data_dir).name if data_dir else extra['data']}{scored})",
        report_path=report_path,
        extra=extra,
    )


@user_errors_as_one_line()
def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help=".keras, .h5 or .tflite model with 49x10x1 MFCC input")
    add_data_args(parser, folder=FOLDER_HELP, tfds=DATASET)
    parser.add_argument("--split", default=EVAL_SPLIT, help="TFDS split when no --data-dir (default: test)")
    parser.add_argument("--confusion-png", help="write the confusion matrix as a PNG")
    parser.add_argument("--float-model", help="also compare with this float .keras model ...")
    parser.add_argument("--report", help="... and write the comparison to this report.json")
    parser.add_argument("--reference", default=CARD.reference,
                        help="also score this reference .tflite (path or registered name) on the same clips, into "
                             f"the report (default: {CARD.reference}, the model card's; '{NONE}' to skip)")
    args = parser.parse_args(argv)
    if args.reference == NONE:
        args.reference = None
    if bool(args.float_model) != bool(args.report):
        parser.error("--float-model and --report go together")
    check_model_files(args.model, FEATURE_SHAPE, int8=bool(args.report), float_model=args.float_model, data=DATA)
    if args.reference:
        require_int8_tflite(resolve_reference(args.reference), "--reference")
    try:
        clips = load_arrays(args.split, data_dir=args.data_dir, tfds_dir=args.tfds_dir)
    except DataLayoutError as exc:
        raise SystemExit(f"error: {exc}")
    except DatasetMissingError as exc:
        raise SystemExit(f"error: {exc}\n{FOLDER_HINT}")
    result = evaluate(args.model, split=args.split, data_dir=args.data_dir, confusion_png=args.confusion_png,
                      clips=clips)
    if args.report:
        report = validate_artifacts(args.float_model, args.model, args.report, split=args.split,
                                    data_dir=args.data_dir, clips=clips, reference=args.reference)
        result.update({k: report[k] for k in ("metric_float", "metric_int8", "drop", "size_bytes")})
        for key in ("held_out", "reference"):
            if key in report:
                result[key] = report[key]
    elif args.reference:
        ref = evaluate(resolve_reference(args.reference), data_dir=args.data_dir, clips=clips,
                       held_out_from=args.model)
        result["reference"] = {"name": args.reference, "accuracy": ref["accuracy"]}
    result.pop("confusion_matrix")
    print(json.dumps(result))


if __name__ == "__main__":
    from common.cli import run

    run(main)
