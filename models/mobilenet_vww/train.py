"""Train MobileNetV1-0.25 VWW from scratch, or import MLPerf Tiny's RGB `vww_96.h5` as a grayscale
model (exact conversion) and optionally fine-tune it on grayscale images.

    python -m models.mobilenet_vww.train --init pretrained --epochs 0 --out build/mobilenet_vww/model.keras
    python -m models.mobilenet_vww.train --init scratch --epochs 50            # TFDS coco/2017, VWW labels
    python -m models.mobilenet_vww.train --init pretrained --epochs 5 --data-dir my_vww_folder \\
        --train-split 'all[:90%]' --val-split 'all[90%:]'
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from common import env
from common.graph.keras_io import save_model
from common.training.fit import fit, get_strategy, parse_config, prepare_run
from common.data.weights import fetch
from models.mobilenet_vww.data import FOLDER_HELP, TFDS_NAME, load_dataset
from models.mobilenet_vww.model import INPUT_SHAPE, build_model

STEM = "conv2d"  # the first convolution, the only layer that sees the input channels


@dataclass
class TrainConfig:
    init: str = "scratch"  # "scratch" or "pretrained" (MLPerf Tiny vww_96.h5, converted to grayscale)
    epochs: int = 50  # 0 with --init pretrained = import only
    batch_size: int = 50  # MLPerf Tiny's VWW batch size
    learning_rate: float = 1e-3
    lr_decay: float = 0.95  # per-epoch exponential decay
    train_split: str = "train"  # TFDS coco/2017 split, or a slice like 'all[:90%]' of --data-dir
    val_split: str = "validation"
    seed: int = 0
    steps_per_epoch: int | None = None  # cap for quick runs/tests
    weights: str | None = None  # explicit path to vww_96.h5
    data_dir: str | None = None  # folder dataset instead of TFDS
    tfds_dir: str | None = None
    workdir: str = "build/mobilenet_vww/train"
    out: str = "build/mobilenet_vww/model.keras"
    strategy: str = "default"
    restart: bool = False  # discard the resume state in workdir
    channels: int = INPUT_SHAPE[-1]  # 1 = grayscale (the shipped model); 3 = MLPerf's original RGB input


def gray_stem_kernel(kernel: np.ndarray) -> np.ndarray:
    """(kh, kw, 3, F) RGB kernel -> (kh, kw, 1, F): a gray image g replicated to (g, g, g) gives
    sum_c k[..., c, :] * g, so summing over the RGB axis keeps every output identical."""
    kernel = np.asarray(kernel)
    if kernel.ndim != 4 or kernel.shape[2] != 3:
        raise ValueError(f"expected an RGB conv kernel (kh, kw, 3, F), got shape {kernel.shape}")
    return kernel.sum(axis=2, keepdims=True)


def read_h5_weights(path: str | os.PathLike) -> dict[str, list[np.ndarray]]:
    """Layer name -> weights in Keras order, from a legacy Keras 2 `.h5` (which Keras 3 cannot
    deserialise: its DepthwiseConv2D config carries an unknown `groups` argument)."""
    import h5py

    def text(v):
        return v.decode() if isinstance(v, bytes) else str(v)

    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        return {
            text(layer): [np.asarray(root[text(layer)][text(w)]) for w in root[text(layer)].attrs["weight_names"]]
            for layer in root.attrs["layer_names"]
        }


def load_pretrained(path: str | os.PathLike | None = None, channels: int = INPUT_SHAPE[-1]):
    """Our MobileNetV1 with the MLPerf Tiny `vww_96.h5` weights; `channels=1` sums the stem kernel
    over RGB (exact for gray images), `channels=3` is the original RGB model."""
    weights = read_h5_weights(fetch("mlperf_vww96", path))
    model = build_model(input_shape=(*INPUT_SHAPE[:2], channels))
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in weights:
            raise ValueError(f"vww_96.h5 has no weights for layer {layer.name!r}")
        values = list(weights[layer.name])
        if layer.name == STEM and channels == 1:
            values[0] = gray_stem_kernel(values[0])
        layer.set_weights(values)
    return model


def train(config: TrainConfig):
    """Build or import the model, fit it for `config.epochs` and save it atomically to `config.out`."""
    import keras

    prepare_run(config)  # bad options or another run's resume state: fail before loading anything
    env.set_seed(config.seed)
    with get_strategy(config.strategy).scope():
        if config.init == "pretrained":
            model = load_pretrained(config.weights, channels=config.channels)
        else:
            model = build_model(input_shape=(*INPUT_SHAPE[:2], config.channels))
        if config.epochs > 0:
            color = "gray" if config.channels == 1 else "rgb"
            train_ds = load_dataset(config.train_split, data_dir=config.data_dir, tfds_dir=config.tfds_dir,
                                    color=color, batch_size=config.batch_size, augment_data=True, shuffle=True,
                                    seed=config.seed)
            val_ds = load_dataset(config.val_split, data_dir=config.data_dir, tfds_dir=config.tfds_dir,
                                  color=color, batch_size=256)
            steps = config.steps_per_epoch or int(train_ds.cardinality())
            schedule = keras.optimizers.schedules.ExponentialDecay(
                config.learning_rate, decay_steps=max(1, steps), decay_rate=config.lr_decay)
            model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"])
    if config.epochs > 0:
        fit(model, train_ds, val_ds, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
            workdir=config.workdir, config=config, shuffle=False)  # the dataset shuffles itself
    save_model(model, config.out)
    return model


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    return parse_config(TrainConfig, argv, __doc__, help={
        "init": "random weights, or MLPerf Tiny vww_96.h5 converted to grayscale input",
        "lr_decay": "per-epoch learning-rate decay factor",
        "train_split": "TFDS split, or a slice such as 'all[:90%%]' of --data-dir",
        "weights": "explicit path to vww_96.h5",
        "data_dir": FOLDER_HELP,
        "tfds_dir": f"holds {TFDS_NAME}",
        "channels": "input channels: 1 = grayscale (the shipped model), 3 = the original RGB model",
    }, choices={"init": ("scratch", "pretrained"), "channels": (1, 3)})

def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    from common.cli import run

    run(main)
