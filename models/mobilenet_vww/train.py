"""Train MobileNetV1-0.25 VWW from scratch, or import MLPerf Tiny's RGB `vww_96.h5` as a grayscale
model (exact conversion) and optionally fine-tune it on grayscale images.

    python -m models.mobilenet_vww.train --init pretrained --epochs 0 --out build/mobilenet_vww/model.keras
    python -m models.mobilenet_vww.train --init scratch --epochs 50            # TFDS coco/2017, VWW labels
    python -m models.mobilenet_vww.train --init pretrained --epochs 5 --data-dir my_two_classes   # train/val parts
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from common.pipeline.references import fetch_file
from common.training import fit
from models.mobilenet_vww.data import load_dataset
from models.mobilenet_vww.model import build_model
from models.mobilenet_vww.recipe import RECIPE

INPUT_SHAPE = RECIPE.input_shape
STEM = "conv2d"  # the first convolution, the only layer that sees the input channels


@dataclass
class TrainConfig(fit.TrainConfig):
    model: ClassVar[str] = RECIPE.name
    epochs: int = 50  # 0 with --init pretrained = import only
    batch_size: int = 50  # MLPerf Tiny's VWW batch size
    lr_decay: float = 0.95  # per-epoch exponential decay
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
    weights = read_h5_weights(fetch_file(RECIPE, "mlperf_vww96", path))
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

    color = "gray" if config.channels == 1 else "rgb"

    def build():
        if config.init == "pretrained":
            return load_pretrained(config.weights, channels=config.channels)
        return build_model(input_shape=(*INPUT_SHAPE[:2], config.channels))

    def compile(model, train_ds):
        steps = config.steps_per_epoch or int(train_ds.cardinality())
        schedule = keras.optimizers.schedules.ExponentialDecay(config.learning_rate, decay_steps=max(1, steps),
                                                               decay_rate=config.lr_decay)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])

    def datasets():
        return (load_dataset(config.train_split, data_dir=config.data_dir, tfds_dir=config.tfds_dir, color=color,
                             batch_size=config.batch_size, augment_data=True, shuffle=True, seed=config.seed),
                load_dataset(config.val_split, data_dir=config.data_dir, tfds_dir=config.tfds_dir, color=color,
                             batch_size=256))

    return fit.run_training(config, build, compile, datasets, shuffle=False)  # the dataset shuffles itself


parse_args, main = fit.cli(TrainConfig, train, __doc__, RECIPE, help={
    "init": "random weights, or MLPerf Tiny vww_96.h5 converted to grayscale input",
    "lr_decay": "per-epoch learning-rate decay factor",
    "train_split": "TFDS split, or of --data-dir: train/val/test (a class folder's parts) or a slice such as "
                   "'all[:90%%]'",
    "weights": "explicit path to vww_96.h5",
    "channels": "input channels: 1 = grayscale (the shipped model), 3 = the original RGB model",
}, choices={"init": ("scratch", "pretrained"), "channels": (1, 3)})

if __name__ == "__main__":
    from common.cli import run

    run(main)
