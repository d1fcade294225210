"""Full-int8 PTQ of the imported face landmark model, calibrated on real face crops.

Calibration set: the face crops of the `calibration` split (every 3rd photo of each folder, see
data.py), each also mirrored, plus a brightness/contrast-jittered copy of all of those (seeded), plus
the same photos whole, resized to 192x192: mostly no centred face, so the face-flag output is
calibrated on negative logits too (otherwise its int8 range starts at 0 and "no face" cannot be said).

PReLU layers (`--mixed-prelu`): 5 of MediaPipe's 23 mix alphas <= 1 and > 1 (8 channels > 1, up to
1.37). `clamp` (default) converts them as max(x, a*x) with those alphas clamped to 1, which is what the
Efinix reference computes: MUL + MAXIMUM like every other layer, so the graph is as lean as the
reference's. `exact` keeps MediaPipe's function, x + (a-1)*min(x, 0): MINIMUM + MUL + ADD, about 2%
slower under TFLM (`python -m benchmarks.facemesh_graph`). The float model.keras is exact either way.

    python -m models.facemesh.quantize --model build/facemesh/model.keras --out build/facemesh/model.tflite \\
        --data-dir ../shared/data/faces
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common import env  # noqa: F401
from common.cli import quantize_cli
from common.graph.quantize import quantize_int8
from common.graph.same_scale import union_same_scale_ranges
from common.data.calibration import DEFAULT_N, DEFAULT_SEED, representative_dataset, sample_features
from common.graph.layers import clamp_mixed_prelu
from common.graph.keras_io import load_model
from models.facemesh.data import add_source_args, augment_crops, load_face_crops

CALIBRATION_SPLIT = "calibration"  # never the evaluation photos
MIXED_PRELU = ("clamp", "exact")


def quantize(
    model_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    tfds_dir: str | os.PathLike | None = None,
    n: int = DEFAULT_N,
    seed: int = DEFAULT_SEED,
    split: str = CALIBRATION_SPLIT,
    mixed_prelu: str = "clamp",
) -> Path:
    if mixed_prelu not in MIXED_PRELU:
        raise ValueError(f"mixed_prelu must be one of {MIXED_PRELU}, got {mixed_prelu!r}")
    model = load_model(model_path)
    clamped: list[dict] = []
    if mixed_prelu == "clamp":
        model, clamped = clamp_mixed_prelu(model)
    crops = load_face_crops(split, data_dir=data_dir, tfds_dir=tfds_dir)
    images = np.concatenate([augment_crops(crops.images, seed), crops.whole_images])
    (calibration,) = sample_features(images, n, seed)
    with union_same_scale_ranges():  # max(x, alpha * x) must not clip x (common/graph/same_scale.py)
        return quantize_int8(model, representative_dataset(calibration), out_path,
                             metadata={"calibration_n": len(calibration), "calibration_seed": seed,
                                       "calibration_split": split, "calibration_faces": len(crops),
                                       "calibration_images": crops.sources,
                                       "calibration_augmentation": "mirror + brightness/contrast jitter; + whole photos",
                                       "mixed_prelu": mixed_prelu, "clamped_alphas": clamped})


def main(argv: list[str] | None = None) -> None:
    parser = quantize_cli(__doc__, DEFAULT_N)
    add_source_args(parser)
    parser.add_argument("--split", default=CALIBRATION_SPLIT, choices=("calibration", "evaluation", "all"))
    parser.add_argument("--mixed-prelu", default="clamp", choices=MIXED_PRELU,
                        help="PReLU layers that mix alphas <= 1 and > 1: 'clamp' alphas > 1 to 1 and use "
                             "MUL + MAXIMUM like the Efinix reference (default), or 'exact' "
                             "(MINIMUM + MUL + ADD, MediaPipe's function, ~2%% slower under TFLM)")
    args = parser.parse_args(argv)
    path = quantize(args.model, args.out, data_dir=args.data_dir, tfds_dir=args.tfds_dir,
                    n=args.calibration_n, seed=args.seed, split=args.split, mixed_prelu=args.mixed_prelu)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    from common.cli import run

    run(main)
