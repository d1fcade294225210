"""Import MediaPipe's face landmark network into Keras (no training: the weights are MediaPipe's).

Rebuilds the graph of `face_landmark.tflite` as Keras layers, copies its float16 weights as float32,
checks the Keras outputs against the original `.tflite` on seeded random images and saves the model
(`common.pipeline.imported`).

    python -m models.facemesh.train --out build/facemesh/model.keras
"""
from __future__ import annotations

import numpy as np

from common.pipeline.imported import import_step
from models.facemesh.model import build_model
from models.facemesh.recipe import RECIPE

MAX_IMPORT_DIFF_PX = 0.05  # the bound for float Keras vs the original tflite


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


main = import_step("facemesh", "mediapipe_face_landmark", build_model, import_check,
                   {"landmarks_max_abs_diff_px": MAX_IMPORT_DIFF_PX}, __doc__)

if __name__ == "__main__":
    from common.cli import run

    run(main)
