"""Train the Deep AutoEncoder on the normal ToyCar clips, or import MLPerf Tiny's ad01.h5.

    python -m models.autoencoder.train --init pretrained --epochs 0 --out build/autoencoder/model.keras
    python -m models.autoencoder.train --init scratch --epochs 100 --tfds-dir ~/tensorflow_datasets
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from common.training import fit
from models.autoencoder.model import build_model
from models.autoencoder.recipe import RECIPE


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

    def datasets():
        from models.autoencoder.data import prepare, vector_dataset

        if config.data_dir:
            prepare(config.data_dir, config.tfds_dir)
        train_ds = vector_dataset(config.train_split, tfds_dir=config.tfds_dir).map(lambda v: (v, v))
        # no cache: the full ToyCar train split is ~1.2M vectors (3 GB); TFDS re-reads it each epoch
        train_ds = train_ds.shuffle(config.shuffle_buffer, seed=config.seed).batch(config.batch_size).prefetch(2)
        val_ds = vector_dataset(config.val_split, tfds_dir=config.tfds_dir).map(lambda v: (v, v)).batch(2048).cache()
        return train_ds, val_ds

    return fit.run_training(config, lambda: load_pretrained(config.weights) if config.init == "pretrained"
                            else build_model(), compile, datasets)


parse_args, main = fit.cli(TrainConfig, train, __doc__, RECIPE, help={
    "init": "start from random weights or the MLPerf Tiny ad01.h5",
    "shuffle_buffer": "vectors in the shuffle buffer",
    "weights": "explicit path to ad01.h5",
}, choices={"init": ("scratch", "pretrained")})

if __name__ == "__main__":
    from common.cli import run

    run(main)
