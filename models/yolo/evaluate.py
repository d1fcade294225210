"""Person mAP@0.5 (and mAP@0.5:0.95) of a yolo-pico model (.keras or .tflite), with --report side by side
with the Efinix int8 file on the same images through the same code (the pipeline's evaluate step with
this model's recipe); prints one JSON line. `--image` detects in one photo and draws the boxes.

A model of your classes (its `<model>.classes.txt`, or the folder's classes.txt; `models.yolo.classes`)
is scored by mAP@0.5 averaged over its classes (AP per class in report.json, `class_names` in output
order) on the folder's test images, without the person reference.

    python -m models.yolo.evaluate --model build/yolo/model.tflite --data-dir ../shared/data/coco128_person
    python -m models.yolo.evaluate --model build/yolo/model.tflite --float-model build/yolo/model.keras \\
        --report build/yolo/report.json --data-dir ../shared/data/coco128_person --plots-dir build/yolo
    python -m models.yolo.evaluate --model build/yolo/model.tflite --image photo.jpg --out-png boxes.png
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from common.cli import user_errors_as_one_line


@user_errors_as_one_line()
def evaluate(argv: Sequence[str] | None = None):
    """The pipeline's evaluate step with the recipe of the model's classes."""
    from common.pipeline import evaluate as step
    from models.yolo.classes import command_classes, recipe_for
    from models.yolo.recipe import RECIPE

    argv = list(sys.argv[1:] if argv is None else argv)
    step.check_command_models(RECIPE, argv)  # the files' own checks before their classes'
    return step.main(recipe_for(command_classes(argv, ["--model", "--float-model"])), argv, __doc__)


def draw(model_path: str | os.PathLike, image_path: str | os.PathLike, out_png: str | os.PathLike) -> np.ndarray:
    """Detect objects in one image and draw the boxes (pixels of the original image), labelled with the
    model's class names, to a PNG."""
    from PIL import Image, ImageDraw

    from common.atomic import atomic_path
    from common.data.images import read_image
    from common.evaluation.models import load_predictor
    from models.yolo.classes import read_classes
    from models.yolo.data import preprocess
    from models.yolo.recipe import RECIPE
    from models.yolo.decode import decode_batch, to_pixels
    from models.yolo.metric import heads_in_order

    image = read_image(image_path, "RGB")
    names = read_classes(model_path) or RECIPE.data.class_names
    heads = heads_in_order(load_predictor(model_path), preprocess(image)[None])
    rows = decode_batch(list(heads))[0]
    boxes = to_pixels(rows, image.shape[:2])
    canvas = Image.fromarray(image)
    pen = ImageDraw.Draw(canvas)
    for x0, y0, x1, y1, objectness, prob, label in boxes:
        pen.rectangle([x0, y0, x1, y1], outline=(255, 40, 40), width=max(2, image.shape[1] // 200))
        name = names[int(label)] if int(label) < len(names) else f"class {int(label)}"
        pen.text((x0 + 3, y0 + 2), f"{name} {objectness * prob:.2f}", fill=(255, 255, 0))
    with atomic_path(out_png) as tmp:
        canvas.save(tmp, format="PNG")
    return boxes


def main(argv: Sequence[str] | None = None) -> None:
    """The pipeline's evaluate step, or with --image the boxes of one photo."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--image" not in argv:
        evaluate(argv)
        return
    from common.cli import ArgumentParser

    parser = ArgumentParser(description="Detect objects in one image and draw the boxes.")
    parser.add_argument("--model", required=True, help=".keras or .tflite model with 96x96x3 input")
    parser.add_argument("--image", required=True, help="the photo (any size)")
    parser.add_argument("--out-png", help="where to draw the boxes (default: <image stem>_detections.png)")
    args = parser.parse_args(argv)
    out = args.out_png or f"{Path(args.image).stem}_detections.png"
    boxes = draw(args.model, args.image, out)
    print(json.dumps({"image": args.image, "png": out, "boxes_pixels": np.round(boxes, 2).tolist()}))


if __name__ == "__main__":
    from common.cli import run

    run(main)
