"""Person mAP@0.5 (and mAP@0.5:0.95) of a yolo-pico model (.keras or .tflite), with --report side by side
with the Efinix int8 file on the same images through the same code (the pipeline's evaluate step with
this model's recipe); prints one JSON line. `--image` detects in one photo and draws the boxes.

    python -m models.yolo.evaluate --model build/yolo/model.tflite --data-dir ../shared/data/coco128_person
    python -m models.yolo.evaluate --model build/yolo/model.tflite --float-model build/yolo/model.keras \\
        --report build/yolo/report.json --data-dir ../shared/data/coco128_person --plots-dir build/yolo
    python -m models.yolo.evaluate --model build/yolo/model.tflite --image photo.jpg --out-png boxes.png
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from common.pipeline.evaluate import step

evaluate = step("yolo", __doc__)


def draw(model_path: str | os.PathLike, image_path: str | os.PathLike, out_png: str | os.PathLike) -> np.ndarray:
    """Detect persons in one image and draw the boxes (pixels of the original image) to a PNG."""
    from PIL import Image, ImageDraw

    from common.atomic import atomic_path
    from common.data.images import read_image
    from common.evaluation.models import load_predictor
    from models.yolo.data import preprocess
    from models.yolo.decode import decode_batch, to_pixels
    from models.yolo.metric import heads_in_order

    image = read_image(image_path, "RGB")
    heads = heads_in_order(load_predictor(model_path), preprocess(image)[None])
    rows = decode_batch(list(heads))[0]
    boxes = to_pixels(rows, image.shape[:2])
    canvas = Image.fromarray(image)
    pen = ImageDraw.Draw(canvas)
    for x0, y0, x1, y1, objectness, prob in boxes:
        pen.rectangle([x0, y0, x1, y1], outline=(255, 40, 40), width=max(2, image.shape[1] // 200))
        pen.text((x0 + 3, y0 + 2), f"person {objectness * prob:.2f}", fill=(255, 255, 0))
    with atomic_path(out_png) as tmp:
        canvas.save(tmp, format="PNG")
    return boxes


def main(argv: Sequence[str] | None = None) -> None:
    """The pipeline's evaluate step, or with --image the boxes of one photo."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--image" not in argv:
        evaluate(argv)
        return
    from common.cli import ArgumentParser

    parser = ArgumentParser(description="Detect persons in one image and draw the boxes.")
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
