"""Test set-up for every test folder (tests/, models/<m>/tests/): point TFDS and the published-file
search at ../shared when it is there, and the fixtures they share (helpers: tests/helpers.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("ZOO_SHARED_DIR", REPO.parent / "shared")).resolve()

# Must happen before TensorFlow / TFDS are imported (TFDS reads TFDS_DATA_DIR at import time).
if (SHARED / "tensorflow_datasets").is_dir():
    os.environ.setdefault("TFDS_DATA_DIR", str(SHARED / "tensorflow_datasets"))
if (SHARED / "pretrained").is_dir():
    os.environ.setdefault("ZOO_WEIGHTS_DIR", str(SHARED / "pretrained"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def _tiny_model():
    """Conv, depthwise, add, leaky ReLU, flatten, dense, softmax: every op class of the zoo's models."""
    import keras

    from common.graph.layers import StaticFlatten

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.Add()([x, keras.layers.Conv2D(4, 1)(inputs)])
    x = keras.layers.LeakyReLU(0.1)(x)
    x = StaticFlatten()(x)
    outputs = keras.layers.Dense(5, activation="softmax")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(float Keras model, its full-int8 .tflite path, the 64 calibration samples)."""
    import numpy as np

    from common.graph.quantize import quantize_int8
    from common.data.calibration import representative_dataset

    model = _tiny_model()
    calib = np.random.default_rng(0).uniform(-1, 1, (64, 8, 8, 3)).astype(np.float32)
    path = quantize_int8(model, representative_dataset(calib), tmp_path_factory.mktemp("q") / "tiny.tflite",
                         metadata={"calibration_n": 64})
    return model, path, calib
