"""Process-wide settings applied before TensorFlow is imported (quiet logs, determinism)."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # oneDNN reorders float sums: results would vary run to run


def set_seed(seed: int) -> None:
    """Seed Python, NumPy, TF and Keras, and make TF ops deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # already enabled, or not supported by this build
        pass
