"""Train the Deep AutoEncoder on the normal ToyCar clips, or import MLPerf Tiny's ad01.h5.

    python -m models.autoencoder.train --init pretrained --epochs 0 --out build/autoencoder/model.keras
    python -m models.autoencoder.train --init scratch --epochs 100 --tfds-dir ~/tensorflow_datasets
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from common import env
from common.graph.keras_io import save_model
from common.training.fit import fit, get_strategy, parse_config, prepare_run
from common.data.weights import fetch
from models.autoencoder.model import build_model


@dataclass
class TrainConfig:
    init: str = "scratch"  # "scratch" or "pretrained" (MLPerf Tiny ad01.h5)
    epochs: int = 100  # MLPerf Tiny's schedule; 0 with --init pretrained = import only
    batch_size: int = 512
    learning_rate: float = 1e-3
    train_split: str = "train[:90%]"  # normal clips only (the train split holds nothing else)
    val_split: str = "train[90%:]"
    seed: int = 0
    shuffle_buffer: int = 100_000
    steps_per_epoch: int | None = None  # cap for quick runs/tests
    weights: str | None = None  # explicit path to ad01.h5
    data_dir: str | None = None  # ToyCar folder, (re)built into tfds_dir first
    tfds_dir: str | None = None
    workdir: str = "build/autoencoder/train"
    out: str = "build/autoencoder/model.keras"
    strategy: str = "default"
    restart: bool = False  # discard the resume state in workdir


def load_pretrained(path: str | os.PathLike | None = None):
    """Our autoencoder with the MLPerf Tiny reference weights (ad01.h5 has the same layer order)."""
    import keras

    reference = keras.models.load_model(fetch("mlperf_ad01", path), compile=False)
    model = build_model()
    if model.count_params() != reference.count_params():
        raise ValueError(f"ad01.h5 has {reference.count_params()} parameters, our model {model.count_params()}")
    model.set_weights(reference.get_weights())
    return model


def train(config: TrainConfig):
    """Build or import the model, fit it (MSE reconstruction of normal vectors) for `config.epochs`
    and save it atomically to `config.out`."""
    import keras

    prepare_run(config)  # bad options or another run's resume state: fail before loading anything
    env.set_seed(config.seed)
    with get_strategy(config.strategy).scope():
        model = load_pretrained(config.weights) if config.init == "pretrained" else build_model()
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="mean_squared_error")
    if config.epochs > 0:
        from models.autoencoder.data import prepare, vector_dataset

        if config.data_dir:
            prepare(config.data_dir, config.tfds_dir)

        train_ds = vector_dataset(config.train_split, tfds_dir=config.tfds_dir).map(lambda v: (v, v))
        # no cache: the full ToyCar train split is ~1.2M vectors (3 GB); TFDS re-reads it each epoch
        train_ds = train_ds.shuffle(config.shuffle_buffer, seed=config.seed).batch(config.batch_size)
        val_ds = vector_dataset(config.val_split, tfds_dir=config.tfds_dir).map(lambda v: (v, v)).batch(2048).cache()
        fit(model, train_ds.prefetch(2), val_ds, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
            workdir=config.workdir, config=config)
    save_model(model, config.out)
    return model


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    from models.autoencoder.data import FOLDER_HELP

    return parse_config(TrainConfig, argv, __doc__, help={
        "init": "start from random weights or the MLPerf Tiny ad01.h5",
        "shuffle_buffer": "vectors in the shuffle buffer",
        "weights": "explicit path to ad01.h5",
        "data_dir": FOLDER_HELP,
        "tfds_dir": "holds dcase2020_toycar",
    }, choices={"init": ("scratch", "pretrained")})

def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    from common.cli import run

    run(main)
