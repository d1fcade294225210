"""Top-1 accuracy of a ResNet-8 model (.keras, .h5 or .tflite) on CIFAR-10; prints one JSON line.

    python -m models.resnet_cifar.evaluate --model build/resnet_cifar/model.tflite
    python -m models.resnet_cifar.evaluate --model ../shared/pretrained/efinix/resnet_image_classify.tflite
    python -m models.resnet_cifar.evaluate --model build/resnet_cifar/model.tflite \\
        --float-model build/resnet_cifar/model.keras --report build/resnet_cifar/report.json
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from common import env  # noqa: F401
from common.cli import ArgumentParser, add_data_args, user_errors_as_one_line
from common.graph.keras_io import load_model
from common.evaluation.models import as_numpy, check_model_files, load_predictor, require_input_shape, require_int8_tflite
from common.evaluation.metrics import accuracy, confusion_matrix, per_class_accuracy, plot_confusion_matrix
from models.resnet_cifar.data import CLASS_NAMES, DATASET, load_arrays
from models.resnet_cifar.model import INPUT_SHAPE

DATA = "CIFAR-10 images"

EVAL_SPLIT = "test"


def evaluate(
    model_path: str | os.PathLike,
    *,
    split: str = EVAL_SPLIT,
    tfds_dir: str | os.PathLike | None = None,
    confusion_png: str | os.PathLike | None = None,
) -> dict:
    """Accuracy, per-class accuracy and confusion matrix of any model file with the ResNet-8 interface."""
    require_input_shape(model_path, INPUT_SHAPE, data=DATA)
    x, y = load_arrays(split, tfds_dir=tfds_dir)
    pred = as_numpy(load_predictor(model_path)(x))
    cm = confusion_matrix(y, pred, len(CLASS_NAMES))
    if confusion_png:
        plot_confusion_matrix(cm, CLASS_NAMES, confusion_png, title=Path(model_path).name)
    return {
        "model": str(model_path),
        "split": split,
        "n": int(len(y)),
        "correct": int(cm.trace()),
        "accuracy": accuracy(y, pred),
        "per_class_accuracy": per_class_accuracy(cm, CLASS_NAMES),
        "confusion_matrix": cm.tolist(),
    }


def validate_artifacts(
    keras_path: str | os.PathLike,
    tflite_path: str | os.PathLike,
    report_path: str | os.PathLike,
    *,
    split: str = EVAL_SPLIT,
    tfds_dir: str | os.PathLike | None = None,
) -> dict:
    """Float vs int8 on the same preprocessed test images -> report.json."""
    from common.evaluation.validate import validate

    require_int8_tflite(tflite_path)
    check_model_files(tflite_path, INPUT_SHAPE, float_model=keras_path, data=DATA)
    x, y = load_arrays(split, tfds_dir=tfds_dir)
    return validate(
        model_name="resnet_cifar",
        keras_model=load_model(keras_path),
        tflite_path=tflite_path,
        x=x,
        y=y,
        metric_fn=accuracy,
        metric_name=f"top1_accuracy (cifar10 {split})",
        report_path=report_path,
        extra={"skipped_files": []},  # TFDS examples are all decoded; nothing is skipped
    )


@user_errors_as_one_line()
def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help=".keras, .h5 or .tflite model with 32x32x3 input")
    parser.add_argument("--split", default=EVAL_SPLIT, help="TFDS split (default: test)")
    add_data_args(parser, folder=None, tfds=DATASET)
    parser.add_argument("--confusion-png", help="write the confusion matrix as a PNG")
    parser.add_argument("--float-model", help="also compare with this float .keras model ...")
    parser.add_argument("--report", help="... and write the comparison to this report.json")
    args = parser.parse_args(argv)
    if bool(args.float_model) != bool(args.report):
        parser.error("--float-model and --report go together")
    check_model_files(args.model, INPUT_SHAPE, int8=bool(args.report), float_model=args.float_model, data=DATA)
    result = evaluate(args.model, split=args.split, tfds_dir=args.tfds_dir, confusion_png=args.confusion_png)
    if args.report:
        report = validate_artifacts(args.float_model, args.model, args.report, split=args.split,
                                    tfds_dir=args.tfds_dir)
        result.update({k: report[k] for k in ("metric_float", "metric_int8", "drop", "size_bytes")})
    result.pop("confusion_matrix")
    print(json.dumps(result))


if __name__ == "__main__":
    from common.cli import run

    run(main)
