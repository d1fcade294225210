"""Train the Deep AutoEncoder on the normal ToyCar clips, or import MLPerf Tiny's ad01.h5.

    python -m models.autoencoder.train --init pretrained --epochs 0 --out build/autoencoder/model.keras
    python -m models.autoencoder.train --init scratch --epochs 100 --tfds-dir ~/tensorflow_datasets
    python -m models.autoencoder.train --data-dir my_machine --epochs 50 --out build/mine/model.keras

With `--data-dir` (your machine's clips, models/autoencoder/folder.py) it fits the folder's train part:
its normal clips, a seeded tenth of them (by path, from 10 clips on) kept for validation.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from common.data.class_folders import ClassFolders, split_by_file
from common.data.items import relative_id
from common.training import fit
from models.autoencoder.features import NORMAL, to_vectors
from models.autoencoder.folder import SPLIT_SEED, SoundFolder, part, read_part, sound_folder
from models.autoencoder.model import build_model
from models.autoencoder.recipe import RECIPE

VAL_MIN_CLIPS = 10  # a folder's train part validates on a tenth of its clips from this many on


@dataclass
class TrainConfig(fit.TrainConfig):
    model: ClassVar[str] = RECIPE.name
    epochs: int = 100  # MLPerf Tiny's schedule; 0 with --init pretrained = import only
    batch_size: int = 512
    train_split: str = "train[:90%]"  # normal clips only (the train split holds nothing else)
    val_split: str = "train[90%:]"
    shuffle_buffer: int = 100_000


def load_pretrained(path: str | os.PathLike | None = None):
    """Our autoencoder with the MLPerf Tiny reference weights (ad01.h5 has the same layer order)."""
    from common.pipeline.references import fetch_file

    return fit.import_weights(build_model(), fetch_file(RECIPE, "mlperf_ad01", path))


def train(config: TrainConfig):
    """Build or import the model, fit it (MSE reconstruction of normal vectors) for `config.epochs`
    and save it atomically to `config.out`."""
    import keras

    def compile(model, train_ds):
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="mean_squared_error")

    if config.data_dir:  # your own clips: a bad folder is refused here, before any weights load
        folder = sound_folder(config.data_dir)
        fit_part, val_part = folder_fit_val(folder)
        return fit.run_training(config, lambda: _model(config), compile,
                                lambda: (_folder_vectors(folder, fit_part, config, shuffle=True),
                                         _folder_vectors(folder, val_part, config) if val_part else None),
                                monitor="val_loss" if val_part else "loss")

    def datasets():
        from models.autoencoder.data import vector_dataset

        train_ds = vector_dataset(config.train_split, tfds_dir=config.tfds_dir).map(lambda v: (v, v))
        # no cache: the full ToyCar train split is ~1.2M vectors (3 GB); TFDS re-reads it each epoch
        train_ds = train_ds.shuffle(config.shuffle_buffer, seed=config.seed).batch(config.batch_size).prefetch(2)
        val_ds = vector_dataset(config.val_split, tfds_dir=config.tfds_dir).map(lambda v: (v, v)).batch(2048).cache()
        return train_ds, val_ds

    return fit.run_training(config, lambda: _model(config), compile, datasets)


def _model(config: TrainConfig):
    return load_pretrained(config.weights) if config.init == "pretrained" else build_model()


def folder_fit_val(folder: SoundFolder) -> tuple[set[str], set[str]]:
    """The ids of the train part's clips that fit and those that validate (none under VAL_MIN_CLIPS)."""
    clips = part(folder, "train")
    if len(clips) < VAL_MIN_CLIPS:
        return {relative_id(p, folder.root) for p, _ in clips}, set()
    fit_part, val_part = split_by_file(ClassFolders(folder.root, (NORMAL,), clips), (0.9, 0.1), SPLIT_SEED)
    return {relative_id(p, folder.root) for p, _ in fit_part}, {relative_id(p, folder.root) for p, _ in val_part}


def _folder_vectors(folder: SoundFolder, ids: set[str], config: TrainConfig, shuffle: bool = False):
    """(vector, vector) batches of the clips `ids` of the folder's train part; skipped clips listed."""
    import numpy as np
    import tensorflow as tf

    items = read_part(folder, "train", ids)
    for s in items.skipped:
        print(f"skipped {s['file']}: {s['error']}")
    x = np.concatenate([to_vectors(m) for m in items.x]).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((x, x))
    if shuffle:
        ds = ds.shuffle(min(len(x), config.shuffle_buffer), seed=config.seed)
    return ds.batch(config.batch_size if shuffle else 2048).prefetch(2)


parse_args, main = fit.cli(TrainConfig, train, __doc__, RECIPE, help={
    "init": "start from random weights or the MLPerf Tiny ad01.h5",
    "shuffle_buffer": "vectors in the shuffle buffer",
    "weights": "explicit path to ad01.h5",
}, choices={"init": ("scratch", "pretrained")})

if __name__ == "__main__":
    from common.cli import run

    run(main)
