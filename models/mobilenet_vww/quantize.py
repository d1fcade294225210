"""Full-int8 PTQ of the grayscale MobileNetV1 VWW model.

Calibration images get exactly the evaluation preprocessing (grayscale, antialiased bilinear resize
to 96x96, pixels/255); labels are never read. They come from `--data-dir` (a folder dataset: a
seeded half of its images, listed in the `.quant.json` sidecar; evaluation scores the other half)
or, without it, TFDS coco/2017 `train` (evaluation: `validation`).

    python -m models.mobilenet_vww.quantize --model build/mobilenet_vww/model.keras \\
        --out build/mobilenet_vww/model.tflite --data-dir ../shared/data/coco128_person
"""
from __future__ import annotations

import os
from pathlib import Path

from common import env  # noqa: F401
from common.cli import add_data_args, quantize_cli
from common.graph.quantize import quantize_int8
from common.evaluation.models import folder_calibration
from common.data.calibration import (DEFAULT_N, DEFAULT_SEED, representative_dataset,
                                   sample_features)
from common.graph.keras_io import load_model
from models.mobilenet_vww.data import FOLDER_HELP, TFDS_NAME, load_dataset, load_folder

CALIBRATION_SPLIT = "train"  # TFDS coco/2017 (the evaluation uses "validation")
CALIBRATION_FRACTION = 0.5  # of a folder dataset; evaluation scores the rest


def quantize(
    model_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    n: int = DEFAULT_N,
    seed: int = DEFAULT_SEED,
    data_dir: str | os.PathLike | None = None,
    split: str | None = None,
    tfds_dir: str | os.PathLike | None = None,
) -> Path:
    model = load_model(model_path)
    split = split or ("all" if data_dir else CALIBRATION_SPLIT)
    color = "gray" if model.input_shape[-1] == 1 else "rgb"
    extra = {}
    if data_dir:  # a folder is small: a seeded half calibrates, the other half is scored
        data = load_folder(data_dir, color, split)
        x, extra = folder_calibration(data.x, data.files, data_dir, CALIBRATION_FRACTION, seed)
        (calibration,) = sample_features(x, n, seed)
    else:  # a TFDS split is streamed: reservoir sampling over its first 20 * n images
        ds = load_dataset(split, tfds_dir=tfds_dir, color=color, batch_size=None).take(20 * n)
        (calibration,) = sample_features(ds, n, seed)
    source = str(Path(data_dir).resolve()) if data_dir else f"tfds coco/2017 {split}"
    return quantize_int8(model, representative_dataset(calibration), out_path,
                         metadata={"calibration_n": len(calibration), "calibration_seed": seed,
                                   "calibration_source": source, "calibration_split": split,
                                   "calibration_preprocessing": f"{color}, antialiased bilinear 96x96, /255",
                                   **extra})


def main(argv: list[str] | None = None) -> None:
    parser = quantize_cli(__doc__, DEFAULT_N)
    add_data_args(parser, folder=FOLDER_HELP, tfds=TFDS_NAME, tfds_help=f"holds {TFDS_NAME} (calibration: train)")
    parser.add_argument("--split", help="'all' / 'all[:50%%]' of --data-dir, or a TFDS split (default: train)")
    args = parser.parse_args(argv)
    path = quantize(args.model, args.out, n=args.calibration_n, seed=args.seed, data_dir=args.data_dir,
                    split=args.split, tfds_dir=args.tfds_dir)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    from common.cli import run

    run(main)
