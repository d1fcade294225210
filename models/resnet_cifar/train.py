"""Train ResNet-8 on CIFAR-10 from scratch, or import MLPerf Tiny's pretrained weights and fine-tune.

    python -m models.resnet_cifar.train --init pretrained --epochs 0 --out build/resnet_cifar/model.keras
    python -m models.resnet_cifar.train --init scratch --epochs 500
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from common import env
from common.graph.keras_io import save_model
from common.training.fit import fit, get_strategy, parse_config, prepare_run
from common.data.weights import fetch
from models.resnet_cifar.data import load_dataset
from models.resnet_cifar.model import build_model


@dataclass
class TrainConfig:
    init: str = "scratch"  # "scratch" or "pretrained" (MLPerf Tiny pretrainedResnet.h5)
    epochs: int = 500  # MLPerf Tiny's schedule; 0 with --init pretrained = import only
    batch_size: int = 32
    learning_rate: float = 1e-3
    lr_decay: float = 0.99  # per-epoch exponential decay, as MLPerf Tiny
    train_split: str = "train[:90%]"
    val_split: str = "train[90%:]"
    seed: int = 0
    steps_per_epoch: int | None = None  # cap for quick runs/tests
    weights: str | None = None  # explicit path to pretrainedResnet.h5
    tfds_dir: str | None = None
    workdir: str = "build/resnet_cifar/train"
    out: str = "build/resnet_cifar/model.keras"
    strategy: str = "default"
    restart: bool = False  # discard the resume state in workdir


def load_pretrained(path: str | os.PathLike | None = None):
    """Our ResNet-8 with the MLPerf Tiny reference weights (the .h5's layer order matches ours)."""
    import keras

    reference = keras.models.load_model(fetch("mlperf_resnet8", path), compile=False)
    model = build_model()
    model.set_weights(reference.get_weights())
    return model


def train(config: TrainConfig, extra_callbacks: list | None = None):
    """Build or import the model, fit it for `config.epochs` and save it atomically to `config.out`.

    Re-running after an interruption resumes from the last finished epoch (`config.workdir`)."""
    import keras

    prepare_run(config)  # bad options or another run's resume state: fail before loading anything
    env.set_seed(config.seed)
    strategy = get_strategy(config.strategy)
    with strategy.scope():
        model = load_pretrained(config.weights) if config.init == "pretrained" else build_model()
        schedule = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=config.steps_per_epoch or _steps(config), decay_rate=config.lr_decay
        )
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    if config.epochs > 0:
        train_ds = load_dataset(config.train_split, tfds_dir=config.tfds_dir, batch_size=config.batch_size,
                                augment_data=True, shuffle=True, seed=config.seed)
        fit(model, train_ds, load_dataset(config.val_split, tfds_dir=config.tfds_dir, batch_size=256),
            epochs=config.epochs, steps_per_epoch=config.steps_per_epoch, workdir=config.workdir, config=config,
            callbacks=extra_callbacks or [])
    save_model(model, config.out)
    return model


def _steps(config: TrainConfig) -> int:
    from common.data.tfds import tfds_builder
    from models.resnet_cifar.data import DATASET

    builder = tfds_builder(DATASET, config.tfds_dir)
    n = builder.info.splits[config.train_split].num_examples
    return max(1, -(-n // config.batch_size))


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    return parse_config(TrainConfig, argv, __doc__, help={
        "init": "start from random weights or the MLPerf Tiny pretrainedResnet.h5",
        "lr_decay": "per-epoch learning-rate decay factor",
        "weights": "explicit path to pretrainedResnet.h5",
    }, choices={"init": ("scratch", "pretrained")}, no_folder="cifar10")


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    from common.cli import run

    run(main)
