"""Full-int8 PTQ of yolo-pico, calibrated on a seeded half of the images of a YOLO-layout folder
(default in the Make chain: coco128_person, the 128 COCO train2017 images; the images are listed in
the `.quant.json` sidecar and evaluation scores the other half) or on TFDS coco/2017 train images,
with the evaluation preprocessing (plain resize to 96x96, pixels / 255).

    python -m models.yolo.quantize --model build/yolo/model.keras --out build/yolo/model.tflite \\
        --data-dir ../shared/data/coco128_person
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common import env  # noqa: F401
from common.cli import add_data_args, quantize_cli
from common.graph.quantize import quantize_int8
from common.evaluation.models import folder_calibration
from common.data.calibration import (DEFAULT_N, DEFAULT_SEED, representative_dataset,
                                   sample_features)
from common.graph.ranges import adopt_activation_ranges
from common.graph.keras_io import load_model
from common.data.weights import fetch
from models.yolo.data import FOLDER_HELP, INPUT_SIZE, TFDS_NAME, load_arrays

CALIBRATION_SPLIT = "train"  # TFDS coco/2017 only
CALIBRATION_FRACTION = 0.5  # of a YOLO folder; evaluation scores the rest
ACTIVATION_RANGES = ("calibrated", "efinix")
REFERENCE = "efinix_yolo"


def quantize(
    model_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    n: int = DEFAULT_N,
    seed: int = DEFAULT_SEED,
    data_dir: str | os.PathLike | None = None,
    tfds_dir: str | os.PathLike | None = None,
    split: str = CALIBRATION_SPLIT,
    activation_ranges: str = "calibrated",
) -> Path:
    if activation_ranges not in ACTIVATION_RANGES:
        raise ValueError(f"--activation-ranges must be one of {ACTIVATION_RANGES}, got {activation_ranges!r}")
    model = load_model(model_path)
    if activation_ranges == "efinix":
        return quantize_with_reference_ranges(model, out_path, seed)
    folder = bool(data_dir)
    data = load_arrays(data_dir, split=split, tfds_dir=tfds_dir, limit=None if folder else 2000)
    extra = {}
    if folder:  # a seeded half calibrates, the other half is what evaluation scores
        x, extra = folder_calibration(data.x, data.paths, data_dir, CALIBRATION_FRACTION, seed)
    else:
        x = data.x
    (calibration,) = sample_features(x, n, seed)
    source = str(data_dir) if folder else f"coco/2017 {split}"
    return quantize_int8(model, representative_dataset(calibration), out_path,
                         metadata={"calibration_n": len(calibration), "calibration_seed": seed,
                                   "calibration_data": source, **extra,
                                   "preprocessing": "RGB, bilinear resize to 96x96 (no antialias), pixels/255"})


def quantize_with_reference_ranges(model, out_path: str | os.PathLike, seed: int = DEFAULT_SEED) -> Path:
    """The imported model with the Efinix file's own activation ranges (calibrated by Efinix on their
    data): no image of ours decides any scale. The converter traces the graph on 8 seeded noise
    images; their ranges are all replaced, so evaluation may score every image of the folder."""
    reference = fetch(REFERENCE)
    noise = np.random.default_rng(seed).uniform(0, 1, (8, *INPUT_SIZE, 3)).astype(np.float32)
    return quantize_int8(model, representative_dataset(noise), out_path,
                         transform=lambda flatbuffer: adopt_activation_ranges(flatbuffer, reference),
                         metadata={"activation_ranges": f"{REFERENCE} ({reference.name}): every activation "
                                                        "scale/zero point of the published file",
                                   "calibration_n": 0, "calibration_files": [],
                                   "conversion_trace": "8 seeded uniform-noise images (ranges replaced)"})


def main(argv: list[str] | None = None) -> None:
    parser = quantize_cli(__doc__, DEFAULT_N)
    add_data_args(parser, folder=FOLDER_HELP, tfds=TFDS_NAME)
    parser.add_argument("--split", default=CALIBRATION_SPLIT, help="TFDS split (without --data-dir)")
    parser.add_argument("--activation-ranges", choices=ACTIVATION_RANGES, default="calibrated",
                        help="calibrated: min/max on the calibration images; efinix: the published Efinix file's "
                             "activation ranges (for the imported, not fine-tuned model; chosen on validation "
                             "images, see README)")
    args = parser.parse_args(argv)
    path = quantize(args.model, args.out, n=args.calibration_n, seed=args.seed, data_dir=args.data_dir,
                    tfds_dir=args.tfds_dir, split=args.split, activation_ranges=args.activation_ranges)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    from common.cli import run

    run(main)
