"""Full-int8 PTQ of the DS-CNN, calibrated on MFCCs of real clips (the evaluation front end).

    python -m models.dscnn_kws.quantize --model build/dscnn_kws/model.keras --out build/dscnn_kws/model.tflite \\
        --data-dir ../shared/data/speech_commands_v0.02_test_subset

With --data-dir, the calibration clips are a seeded, speaker-disjoint subset of that folder's
validation_list.txt clips (full archive) or of all its clips (test-set layout): whole speakers,
about --calibration-n clips; their relative paths are recorded in the
`.quant.json` sidecar so that evaluation can also report accuracy on the other speakers only.
Without it, a seeded sample of the TFDS speech_commands validation split is used (as MLPerf Tiny).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common import env  # noqa: F401
from common.cli import add_data_args, quantize_cli
from common.graph.quantize import quantize_int8
from common.data.calibration import DEFAULT_SEED, representative_dataset, sample_features
from common.graph.keras_io import load_model
from models.dscnn_kws.data import DATASET, FOLDER_HELP, FolderData, folder_split, load_arrays, load_clips, scan_folder, speaker_of

CALIBRATION_N = 120  # as many clips as MLPerf Tiny's quant_cal_idxs.txt
TFDS_CALIBRATION_SPLIT = "validation"


def calibration_files(data: FolderData, n: int = CALIBRATION_N, seed: int = DEFAULT_SEED) -> list[str]:
    """Relative paths of whole speakers, drawn in a seeded order until at least `n` clips."""
    groups: dict[str, list[str]] = {}
    for path in data.files:
        key = speaker_of(path) if "_nohash_" in path.name else data.relative(path)  # silence: own group
        groups.setdefault(key, []).append(data.relative(path))
    keys = sorted(groups)
    chosen: list[str] = []
    for i in np.random.default_rng(seed).permutation(len(keys)):
        if len(chosen) >= n:
            break
        chosen += groups[keys[i]]
    return sorted(chosen)


def quantize(
    model_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    n: int = CALIBRATION_N,
    seed: int = DEFAULT_SEED,
    data_dir: str | os.PathLike | None = None,
    tfds_dir: str | os.PathLike | None = None,
) -> Path:
    model = load_model(model_path)
    if data_dir:
        data = scan_folder(data_dir, folder_split(data_dir, "validation"))
        files = calibration_files(data, n, seed)
        clips = load_clips(data, only=set(files))
        calibration = clips.x
        metadata = {"calibration_source": "folder", "calibration_data_dir": str(Path(data_dir).resolve()),
                    "calibration_files": clips.files, "calibration_skipped": clips.skipped}
    else:
        (calibration,) = sample_features(load_arrays(TFDS_CALIBRATION_SPLIT, tfds_dir=tfds_dir).x, n, seed)
        metadata = {"calibration_source": f"tfds speech_commands {TFDS_CALIBRATION_SPLIT}"}
    return quantize_int8(model, representative_dataset(calibration), out_path,
                         metadata={"calibration_n": len(calibration), "calibration_seed": seed, **metadata})


def main(argv: list[str] | None = None) -> None:
    parser = quantize_cli(__doc__, CALIBRATION_N)
    add_data_args(parser, folder=FOLDER_HELP, tfds=DATASET, tfds_help=f"holds {DATASET} (calibration: its "
                  f"{TFDS_CALIBRATION_SPLIT} split)")
    args = parser.parse_args(argv)
    path = quantize(args.model, args.out, n=args.calibration_n, seed=args.seed, data_dir=args.data_dir,
                    tfds_dir=args.tfds_dir)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    from common.cli import run

    run(main)
