"""Train ResNet-8 on CIFAR-10 from scratch, or import MLPerf Tiny's pretrained weights and fine-tune.

    python -m models.resnet_cifar.train --init pretrained --epochs 0 --out build/resnet_cifar/model.keras
    python -m models.resnet_cifar.train --init scratch --epochs 500
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from common.training import fit
from models.resnet_cifar.data import load_dataset
from models.resnet_cifar.model import build_model
from models.resnet_cifar.recipe import RECIPE


@dataclass
class TrainConfig(fit.TrainConfig):
    model: ClassVar[str] = RECIPE.name
    epochs: int = 500  # MLPerf Tiny's schedule; 0 with --init pretrained = import only
    train_split: str = "train[:90%]"
    val_split: str = "train[90%:]"
    lr_decay: float = 0.99  # per-epoch exponential decay, as MLPerf Tiny


def load_pretrained(path: str | os.PathLike | None = None):
    """Our ResNet-8 with the MLPerf Tiny reference weights (the .h5's layer order matches ours)."""
    from common.pipeline.references import fetch_file

    return fit.import_weights(build_model(), fetch_file(RECIPE, "mlperf_resnet8", path))


def train(config: TrainConfig, extra_callbacks: list | None = None):
    """Build or import the model, fit it for `config.epochs` and save it atomically to `config.out`.

    Re-running after an interruption resumes from the last finished epoch (`config.workdir`)."""
    import keras

    def compile(model, train_ds):
        steps = config.steps_per_epoch or _steps(config)
        schedule = keras.optimizers.schedules.ExponentialDecay(config.learning_rate, decay_steps=steps,
                                                               decay_rate=config.lr_decay)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])

    def datasets():
        return (load_dataset(config.train_split, tfds_dir=config.tfds_dir, batch_size=config.batch_size,
                             augment_data=True, shuffle=True, seed=config.seed),
                load_dataset(config.val_split, tfds_dir=config.tfds_dir, batch_size=256))

    return fit.run_training(config, lambda: load_pretrained(config.weights) if config.init == "pretrained"
                            else build_model(), compile, datasets, callbacks=extra_callbacks or [])


def _steps(config: TrainConfig) -> int:
    from common.data.tfds import tfds_builder

    n = tfds_builder(RECIPE.data.tfds, config.tfds_dir).info.splits[config.train_split].num_examples
    return max(1, -(-n // config.batch_size))


parse_args, main = fit.cli(TrainConfig, train, __doc__, RECIPE, help={
    "init": "start from random weights or the MLPerf Tiny pretrainedResnet.h5",
    "lr_decay": "per-epoch learning-rate decay factor",
    "weights": "explicit path to pretrainedResnet.h5",
}, choices={"init": ("scratch", "pretrained")})

if __name__ == "__main__":
    from common.cli import run

    run(main)
