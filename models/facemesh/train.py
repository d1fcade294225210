"""Import MediaPipe's face landmark network into Keras (no training: the weights are MediaPipe's).

Rebuilds the graph of `face_landmark.tflite` as Keras layers, copies its float16 weights as float32,
checks the Keras outputs against the original `.tflite` on seeded random images and saves the model.

    python -m models.facemesh.train --out build/facemesh/model.keras
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from common import env
from common.graph.keras_io import save_model
from models.facemesh.model import build_model
from models.facemesh.recipe import RECIPE
from common.cli import ArgumentParser, output_file

MAX_IMPORT_DIFF_PX = 0.05  # the bound for float Keras vs the original tflite


@dataclass
class TrainConfig:
    weights: str | None = None  # explicit path to face_landmark.tflite (else the recipe's published file / wheel)
    out: str = "build/facemesh/model.keras"
    workdir: str = "build/facemesh/train"  # unused: nothing is trained; kept for the Makefile contract
    check_samples: int = 4
    seed: int = 0


def import_check(model, tflite_path, n: int = 4, seed: int = 0) -> dict:
    """Max abs difference of landmarks (px) and face-flag logits between Keras and the tflite."""
    from common.graph.runners import Runner

    x = np.random.default_rng(seed).uniform(0, 1, (n, *RECIPE.input_shape)).astype(np.float32)
    landmarks, flag = model.predict(x, verbose=0)
    ref_landmarks, ref_flag = Runner(tflite_path).predict(x)
    return {
        "landmarks_max_abs_diff_px": float(np.abs(landmarks.reshape(n, -1) - ref_landmarks.reshape(n, -1)).max()),
        "flag_max_abs_diff": float(np.abs(flag.reshape(n) - ref_flag.reshape(n)).max()),
    }


def train(config: TrainConfig):
    """Build the Keras model from the tflite, verify it, save it atomically to `config.out`."""
    from common.pipeline.references import fetch_file

    env.set_seed(config.seed)
    source = fetch_file(RECIPE, "mediapipe_face_landmark", config.weights)
    model = build_model(source)
    check = import_check(model, source, config.check_samples, config.seed)
    print(f"import check on {config.check_samples} random images: {check}")
    if check["landmarks_max_abs_diff_px"] > MAX_IMPORT_DIFF_PX:
        raise RuntimeError(f"Keras rebuild differs from {source} by {check['landmarks_max_abs_diff_px']:.4f} px "
                           f"(> {MAX_IMPORT_DIFF_PX}); the graph import is wrong")
    save_model(model, config.out)
    return model


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    defaults = TrainConfig()
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--weights", default=defaults.weights, help="explicit path to face_landmark.tflite")
    parser.add_argument("--out", default=defaults.out, type=output_file, help="the imported .keras model")
    parser.add_argument("--workdir", default=defaults.workdir, help="unused (nothing is trained)")
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
