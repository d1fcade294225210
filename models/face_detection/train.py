"""Import MediaPipe's short-range face detector into Keras (no training: the weights are MediaPipe's).

Rebuilds the graph of `face_detection_short_range.tflite` as Keras layers, copies its float16 weights as
float32, checks the decoded boxes and face logits against the original `.tflite` on seeded random
images, and saves the model.

    python -m models.face_detection.train --out build/face_detection/model.keras [--shortcuts concat|pad]
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from common import env
from common.cli import ArgumentParser, output_file
from common.data.face_detector import detector_outputs, ssd_anchors
from common.graph.keras_io import save_model
from common.graph.tflite_import import SHORTCUTS
from models.face_detection.model import build_model
from models.face_detection.recipe import RECIPE

MAX_IMPORT_DIFF = 1e-3  # box offsets in input pixels and face logits: float32 vs float16-stored weights


@dataclass
class TrainConfig:
    weights: str | None = None  # explicit path to face_detection_short_range.tflite (else the recipe's file / wheel)
    out: str = "build/face_detection/model.keras"
    workdir: str = "build/face_detection/train"  # unused: nothing is trained; kept for the Makefile contract
    shortcuts: str = "concat"
    check_samples: int = 4
    seed: int = 0


def import_check(model, tflite_path, n: int = 4, seed: int = 0) -> dict:
    """Max abs difference of the raw box regressors (input pixels) and face logits, Keras vs the tflite."""
    from common.graph.runners import Runner

    lo, hi = RECIPE.input_range
    x = np.random.default_rng(seed).uniform(lo, hi, (n, *RECIPE.input_shape)).astype(np.float32)
    anchors = len(ssd_anchors(RECIPE.input_shape[0]))
    boxes, logits = detector_outputs(model.predict(x, verbose=0), anchors)
    ref_boxes, ref_logits = detector_outputs(Runner(tflite_path).predict(x), anchors)
    return {"regressors_max_abs_diff_px": float(np.abs(boxes - ref_boxes).max()),
            "logits_max_abs_diff": float(np.abs(logits - ref_logits).max())}


def train(config: TrainConfig):
    """Build the Keras model from the tflite, verify it, save it atomically to `config.out`."""
    from common.pipeline.references import fetch_file

    env.set_seed(config.seed)
    source = fetch_file(RECIPE, "mediapipe_face_detection", config.weights)
    model = build_model(source, config.shortcuts)
    check = import_check(model, source, config.check_samples, config.seed)
    print(f"import check on {config.check_samples} random images: {check}")
    if max(check.values()) > MAX_IMPORT_DIFF:
        raise RuntimeError(f"Keras rebuild differs from {source} by {max(check.values()):.5f} "
                           f"(> {MAX_IMPORT_DIFF}); the graph import is wrong")
    save_model(model, config.out)
    return model


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    defaults = TrainConfig()
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--weights", default=defaults.weights, help="explicit path to face_detection_short_range.tflite")
    parser.add_argument("--out", default=defaults.out, type=output_file, help="the imported .keras model")
    parser.add_argument("--workdir", default=defaults.workdir, help="unused (nothing is trained)")
    parser.add_argument("--shortcuts", default=defaults.shortcuts, choices=SHORTCUTS,
                        help="the widening residuals: concat (two halves, no PAD) or pad (MediaPipe's PAD + ADD)")
    parser.add_argument("--check-samples", type=int, default=defaults.check_samples)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    return TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    train(config)
    print(f"saved {config.out}")


if __name__ == "__main__":
    from common.cli import run

    run(main)
