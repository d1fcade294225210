"""Training plumbing every model shares: callbacks, resume, distribution strategy, atomic saves."""
from __future__ import annotations

import json
import os
from pathlib import Path

from common import env  # noqa: F401
from common.atomic import atomic_path

STRATEGIES = ("default", "mirrored", "multiworker")


def standard_callbacks(workdir: str | os.PathLike, monitor: str = "val_loss") -> list:
    """Checkpoint every epoch, resume after interruption, stop on NaN, log to TensorBoard.

    `BackupAndRestore` keeps the model and optimizer state of the last finished epoch in
    `workdir/backup`; re-running the same command resumes from there. It is removed once
    training ends normally.
    """
    import keras

    workdir = Path(workdir)
    (workdir / "checkpoints").mkdir(parents=True, exist_ok=True)
    return [
        keras.callbacks.BackupAndRestore(str(workdir / "backup"), delete_checkpoint=True),
        keras.callbacks.ModelCheckpoint(str(workdir / "checkpoints" / "epoch_{epoch:03d}.keras")),
        keras.callbacks.ModelCheckpoint(str(workdir / "best.keras"), monitor=monitor, save_best_only=True),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.TensorBoard(str(workdir / "logs"), write_graph=False, profile_batch=0),
        keras.callbacks.CSVLogger(str(workdir / "history.csv"), append=True),
    ]


def get_strategy(name: str = "default"):
    """`default` (one device), `mirrored` (all local GPUs) or `multiworker` (hosts from TF_CONFIG)."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multiworker reads the cluster from $TF_CONFIG, which is not set")
        json.loads(os.environ["TF_CONFIG"])  # fail early on malformed JSON
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


def save_model(model, path: str | os.PathLike) -> Path:
    """Save a Keras model atomically (`.keras` format)."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    return Path(path)


def load_model(path: str | os.PathLike):
    """Load a `.keras`/`.h5` model with the zoo's custom layers registered; no optimizer state."""
    import keras

    from common import layers  # noqa: F401  (registers the custom layers)

    if not Path(path).is_file():
        raise FileNotFoundError(f"no Keras model at {path}")
    return keras.models.load_model(path, compile=False)
