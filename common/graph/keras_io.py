"""Keras model files of the zoo: atomic saves, loads with the zoo's custom layers registered."""
from __future__ import annotations

import os
from pathlib import Path

from common import env  # noqa: F401
from common.atomic import atomic_path
from common.workers import for_this_worker


def save_model(model, path: str | os.PathLike) -> Path:
    """Save a Keras model atomically (`.keras` format)."""
    path = for_this_worker(path)
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    print(f"saved {path}")
    return Path(path)


def load_model(path: str | os.PathLike):
    """Load a `.keras`/`.h5` model with the zoo's custom layers registered; no optimizer state."""
    import keras

    from common.graph import layers  # noqa: F401  (registers the custom layers)

    if not Path(path).is_file():
        raise FileNotFoundError(f"no Keras model at {path}")
    return keras.models.load_model(path, compile=False)
