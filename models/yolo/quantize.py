"""Full-int8 PTQ of yolo-pico, calibrated on the images of a YOLO-layout folder (default in the
Make chain: coco128_person, the 128 COCO train2017 images) or TFDS coco/2017 train images, with the
evaluation preprocessing (plain resize to 96x96, pixels / 255).

    python -m models.yolo.quantize --model build/yolo/model.keras --out build/yolo/model.tflite \\
        --data-dir ../shared/data/coco128_person
"""
from __future__ import annotations

import os
from pathlib import Path

from common import env  # noqa: F401
from common.quantize import quantize_cli, quantize_int8
from common.representative import DEFAULT_N, DEFAULT_SEED, representative_dataset, sample_features
from common.training import load_model
from models.yolo.data import load_arrays

CALIBRATION_SPLIT = "train"  # TFDS coco/2017 only; a YOLO folder is used whole


def quantize(
    model_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    n: int = DEFAULT_N,
    seed: int = DEFAULT_SEED,
    data_dir: str | os.PathLike | None = None,
    split: str = CALIBRATION_SPLIT,
) -> Path:
    model = load_model(model_path)
    data = load_arrays(data_dir, split=split, limit=None if data_dir and (Path(data_dir) / "images").is_dir() else 2000)
    (calibration,) = sample_features(data.x, n, seed)
    source = str(data_dir) if data_dir and (Path(data_dir) / "images").is_dir() else f"coco/2017 {split}"
    return quantize_int8(model, representative_dataset(calibration), out_path,
                         metadata={"calibration_n": len(calibration), "calibration_seed": seed,
                                   "calibration_data": source,
                                   "preprocessing": "RGB, bilinear resize to 96x96 (no antialias), pixels/255"})


def main(argv: list[str] | None = None) -> None:
    parser = quantize_cli(__doc__, DEFAULT_N)
    parser.add_argument("--data-dir", help="YOLO-layout folder (images/, labels/) or TFDS data directory with coco/2017")
    parser.add_argument("--split", default=CALIBRATION_SPLIT, help="TFDS split when --data-dir is not a YOLO folder")
    args = parser.parse_args(argv)
    path = quantize(args.model, args.out, n=args.calibration_n, seed=args.seed, data_dir=args.data_dir, split=args.split)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    from common.cli import run

    run(main)
