"""Person mAP@0.5 (and mAP@0.5:0.95) of a yolo-pico model (.keras or .tflite), side by side with
the Efinix reference int8 file on the same images through the same code; prints one JSON line.

    python -m models.yolo.evaluate --model build/yolo/model.tflite --data-dir ../shared/data/coco128_person
    python -m models.yolo.evaluate --model build/yolo/model.tflite --float-model build/yolo/model.keras \\
        --report build/yolo/report.json --data-dir ../shared/data/coco128_person --pr-png build/yolo/pr_curve.png
    python -m models.yolo.evaluate --model build/yolo/model.tflite --image photo.jpg --out-png boxes.png
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from common import env  # noqa: F401
from common.evaluation.models import check_model_files, held_out_mask, load_predictor, require_input_shape, require_int8_tflite
from common.pipeline.cards import NONE, load_card, resolve_reference
from common.cli import ArgumentParser, add_data_args, user_errors_as_one_line
from common.evaluation.metrics.detection import coco_map, plot_precision_recall, precision_at_recall
from models.yolo.data import FOLDER_HELP, TFDS_NAME, DetectionSet, load_arrays, preprocess
from models.yolo.decode import INPUT_SIZE, decode_batch, to_pixels

INPUT_SHAPE = (*INPUT_SIZE, 3)
DATA = "the detection images"

CARD = load_card("yolo")
REFERENCE = CARD.reference


def detections(predict, x: np.ndarray) -> list[np.ndarray]:
    """Model outputs -> per image (n, 6) rows `x_min, y_min, x_max, y_max, objectness, class_prob`."""
    outputs = predict(x)
    return decode_batch(outputs if isinstance(outputs, (list, tuple)) else [outputs])


def scored(rows: list[np.ndarray]) -> list[np.ndarray]:
    """Rows -> (n, 5) boxes + score (objectness x class probability) for the mAP."""
    return [np.c_[r[:, :4], r[:, 4] * r[:, 5]] for r in rows]


def map_of(data: DetectionSet, rows: list[np.ndarray]) -> dict:
    return coco_map(data.boxes, scored(rows))


def held_out(data: DetectionSet, data_dir: str | os.PathLike | None,
             tflite_path: str | os.PathLike) -> tuple[DetectionSet, int]:
    """`data` without the folder images that calibrated `tflite_path`, and how many were left out."""
    mask = held_out_mask(data.paths, tflite_path, data_dir)
    if mask is None:
        return data, 0
    keep = np.flatnonzero(mask)
    subset = DetectionSet(data.x[keep], [data.boxes[i] for i in keep], [data.paths[i] for i in keep],
                          [data.sizes[i] for i in keep])
    return subset, int((~mask).sum())


def evaluate(
    model_path: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    tfds_dir: str | os.PathLike | None = None,
    split: str = "validation",
    limit: int | None = None,
    data: DetectionSet | None = None,
) -> dict:
    """mAP of any model file with the yolo-pico interface on a YOLO folder or TFDS coco/2017; the
    folder images that calibrated the model (its `.quant.json`) are left out."""
    require_input_shape(model_path, INPUT_SHAPE, data=DATA)
    data = data or load_arrays(data_dir, split=split, tfds_dir=tfds_dir, limit=limit)
    data, excluded = held_out(data, data_dir, model_path)
    rows = detections(load_predictor(model_path), data.x)
    return {"model": str(model_path), "n_images": len(data.x), "excluded_calibration_images": excluded,
            **map_of(data, rows)}


def validate_artifacts(
    keras_path: str | os.PathLike,
    tflite_path: str | os.PathLike,
    report_path: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    tfds_dir: str | os.PathLike | None = None,
    split: str = "validation",
    limit: int | None = None,
    reference: str | os.PathLike | None = REFERENCE,
    pr_png: str | os.PathLike | None = None,
) -> dict:
    """Float vs int8 (and the reference int8 file) on the same preprocessed images -> report.json."""
    from common.graph.keras_io import load_model
    from common.evaluation.validate import validate

    require_int8_tflite(tflite_path)
    check_model_files(tflite_path, INPUT_SHAPE, float_model=keras_path, data=DATA)
    ref_path = None
    if reference and str(reference) != NONE:
        ref_path = require_int8_tflite(resolve_reference(reference), "--reference")
    data, excluded = held_out(load_arrays(data_dir, split=split, tfds_dir=tfds_dir, limit=limit), data_dir, tflite_path)
    curves, extra = {}, {"data": data_dir or f"coco/2017 {split}", "n_images": len(data.x),
                         "excluded_calibration_images": excluded,
                         "n_person_boxes": int(sum(len(b) for b in data.boxes)),
                         "skipped_files": [],  # an undecodable image or a bad label stops the run instead
                         "preprocessing": "RGB, bilinear resize to 96x96 (no antialias), pixels/255",
                         "decode": "objectness >= 0.25, NMS IoU 0.5, score = objectness x class_prob"}

    def metric(y, outputs):
        rows = decode_batch(outputs if isinstance(outputs, (list, tuple)) else [outputs])
        return coco_map(y, scored(rows))["map50"]

    for name, predict in (("int8", load_predictor(tflite_path)), ("float", load_predictor(keras_path))):
        rows = detections(predict, data.x)
        extra[f"map50_95_{name}"] = map_of(data, rows)["map50_95"]
        recall, precision, _ = precision_at_recall(data.boxes, scored(rows))
        curves[f"ours {name} ({Path(tflite_path if name == 'int8' else keras_path).name})"] = (recall, precision)
    if ref_path:
        rows = detections(load_predictor(ref_path), data.x)
        extra["reference"] = {"tflite": str(ref_path), "size_bytes": ref_path.stat().st_size, **map_of(data, rows)}
        recall, precision, _ = precision_at_recall(data.boxes, scored(rows))
        curves[f"Efinix reference ({ref_path.name})"] = (recall, precision)
    report = validate(
        model_name="yolo",
        keras_model=load_model(keras_path),
        tflite_path=tflite_path,
        x=data.x,
        y=data.boxes,
        metric_fn=metric,
        metric_name=f"person mAP@0.5 (COCO 101-point) on {Path(str(extra['data'])).name}"
                    + (f", {len(data.x)} images not used for calibration" if excluded else ""),
        report_path=report_path,
        extra=extra,
    )
    if pr_png:
        plot_precision_recall(curves, pr_png, title=f"person, IoU 0.5, {len(data.x)} images")
    return report


def draw(model_path: str | os.PathLike, image_path: str | os.PathLike, out_png: str | os.PathLike) -> np.ndarray:
    """Detect persons in one image and draw the boxes (pixels of the original image) to a PNG."""
    from PIL import Image, ImageDraw

    from common.atomic import atomic_path
    from common.data.images import read_image

    image = read_image(image_path, "RGB")
    rows = detections(load_predictor(model_path), preprocess(image)[None])[0]
    boxes = to_pixels(rows, image.shape[:2])
    canvas = Image.fromarray(image)
    pen = ImageDraw.Draw(canvas)
    for x0, y0, x1, y1, objectness, prob in boxes:
        pen.rectangle([x0, y0, x1, y1], outline=(255, 40, 40), width=max(2, image.shape[1] // 200))
        pen.text((x0 + 3, y0 + 2), f"person {objectness * prob:.2f}", fill=(255, 255, 0))
    with atomic_path(out_png) as tmp:
        canvas.save(tmp, format="PNG")
    return boxes


@user_errors_as_one_line()
def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help=".keras or .tflite model with 96x96x3 input")
    add_data_args(parser, folder=FOLDER_HELP, tfds=TFDS_NAME)
    parser.add_argument("--split", default="validation", help="TFDS coco/2017 split (without --data-dir)")
    parser.add_argument("--limit", type=int, help="first N images only")
    parser.add_argument("--float-model", help="also compare with this float .keras model ...")
    parser.add_argument("--report", help="... and write the comparison to this report.json")
    parser.add_argument("--reference", default=REFERENCE,
                        help="int8 .tflite (path or registered name) scored side by side in the report "
                             f"(default: {REFERENCE}, the model card's); '{NONE}' to skip")
    parser.add_argument("--pr-png", help="write precision-recall curves (ours int8/float, reference) to this PNG")
    parser.add_argument("--image", help="detect in this one image instead and draw the boxes ...")
    parser.add_argument("--out-png", help="... to this PNG (default: <image stem>_detections.png)")
    args = parser.parse_args(argv)
    if args.image:
        out = args.out_png or f"{Path(args.image).stem}_detections.png"
        boxes = draw(args.model, args.image, out)
        print(json.dumps({"image": args.image, "png": out, "boxes_pixels": np.round(boxes, 2).tolist()}))
        return
    if bool(args.float_model) != bool(args.report):
        parser.error("--float-model and --report go together")
    check_model_files(args.model, INPUT_SHAPE, int8=bool(args.report), float_model=args.float_model, data=DATA)
    data = load_arrays(args.data_dir, split=args.split, tfds_dir=args.tfds_dir, limit=args.limit)
    result = evaluate(args.model, data=data, data_dir=args.data_dir)
    if args.report:
        reference = None if args.reference == NONE else args.reference
        report = validate_artifacts(args.float_model, args.model, args.report, data_dir=args.data_dir,
                                    tfds_dir=args.tfds_dir, split=args.split, limit=args.limit, reference=reference, pr_png=args.pr_png)
        result.update({k: report[k] for k in ("metric_float", "metric_int8", "drop", "size_bytes", "all_int8")})
        if "reference" in report:
            result["reference_map50"] = report["reference"]["map50"]
    print(json.dumps(result))


if __name__ == "__main__":
    from common.cli import run

    run(main)
