"""Model-agnostic prediction: the same call scores a `.keras`/`.h5` model or a `.tflite` file."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common import env  # noqa: F401
from common.tflite import device_runner


def load_predictor(path: str | os.PathLike):
    """A `predict(x) -> np.ndarray` for a Keras model file or a `.tflite` (float in, float out)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    if path.suffix == ".tflite":  # int8: TensorFlow Lite Micro, the target's arithmetic
        runner = device_runner(path)
        return lambda x: runner.predict(x, progress=True)
    if path.suffix in (".keras", ".h5"):
        from common.training import load_model

        model = load_model(path)
        return lambda x: model.predict(x, batch_size=64, verbose=0)
    raise ValueError(f"{path}: expected a .keras, .h5 or .tflite model")


def as_numpy(pred) -> np.ndarray:
    return np.asarray(pred[0] if isinstance(pred, list) else pred)
