"""Build yolo-pico from its cfg and import weights (Efinix int8 reference by default, or Darknet
`.weights`), optionally fine-tune on person-only COCO with a YOLOv3-style loss.

    python -m models.yolo.train --init efinix --epochs 0 --out build/yolo/model.keras
    python -m models.yolo.train --init darknet --weights yolo_pico.weights --epochs 0
    python -m models.yolo.train --init efinix --epochs 10 --data-dir ~/tensorflow_datasets   # coco/2017
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from common.pipeline.references import fetch_file
from common.training import fit
from common.graph.darknet import load_weights, parse_cfg
from models.yolo.decode import ANCHORS, INPUT_SIZE
from models.yolo.model import CFG_PATH, build_model
from models.yolo.targets import GRIDS
from models.yolo.recipe import RECIPE
from models.yolo.tflite_import import import_tflite_weights

IGNORE_IOU = 0.5


@dataclass
class TrainConfig(fit.TrainConfig):
    model: ClassVar[str] = RECIPE.name
    init: str = "efinix"  # "efinix" (import the reference int8 file), "darknet" (cfg + .weights), "scratch"
    learning_rate: float = 1e-4
    weights: str | None = None  # --init darknet: the .weights file; --init efinix: explicit .tflite path
    limit: int | None = None  # use only the first N training images (quick runs)
    cfg: str = str(CFG_PATH)


def initial_model(config: TrainConfig):
    """The cfg-built model with the weights `config.init` names."""
    cfg = parse_cfg(config.cfg)
    model = build_model(config.cfg)
    if config.init == "efinix":
        import_tflite_weights(model, cfg, fetch_file(RECIPE, "efinix_yolo", config.weights))
    elif config.init == "darknet":
        if not config.weights:
            raise ValueError("--init darknet needs --weights <file.weights>")
        load_weights(model, cfg, config.weights)
    elif config.init != "scratch":
        raise ValueError(f"unknown --init {config.init!r}")
    return model


def yolo_loss(head: int):
    """YOLOv3 loss of one head: BCE on cell offsets, L2 on log sizes (both weighted 2 - w*h),
    BCE on objectness (no-object loss ignored where a prediction already overlaps a true box by
    IoU > 0.5) and BCE on the class. Returns the per-image sum."""
    import tensorflow as tf

    gh, gw = GRIDS[head]
    anchors = tf.constant(ANCHORS[head] / np.array(INPUT_SIZE[::-1], np.float32))
    grid = tf.constant(np.stack(np.meshgrid(np.arange(gw), np.arange(gh)), -1)[:, :, None, :], tf.float32)
    size = tf.constant([gw, gh], tf.float32)

    def bce(labels, logits):
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)

    def loss(y_true, y_pred):
        y_true = tf.cast(y_true, tf.float32)
        p = tf.reshape(y_pred, (-1, gh, gw, len(ANCHORS[head]), 6))
        obj = y_true[..., 4:5]
        true_xy = y_true[..., 0:2] * size - grid
        true_wh = tf.math.log(tf.where(obj > 0, y_true[..., 2:4], anchors) / anchors)
        weight = obj * (2.0 - y_true[..., 2:3] * y_true[..., 3:4])
        xy_loss = weight * bce(true_xy, p[..., 0:2])
        wh_loss = weight * 0.5 * tf.square(true_wh - p[..., 2:4])
        # ignore mask: best IoU of each predicted box with any true box of the image
        pred_xy = (tf.sigmoid(p[..., 0:2]) + grid) / size
        pred_wh = tf.exp(tf.clip_by_value(p[..., 2:4], -10, 10)) * anchors
        batch = tf.shape(p)[0]
        pb = tf.reshape(tf.concat([pred_xy - pred_wh / 2, pred_xy + pred_wh / 2], -1), (batch, -1, 1, 4))
        tb = tf.reshape(tf.concat([y_true[..., 0:2] - y_true[..., 2:4] / 2, y_true[..., 0:2] + y_true[..., 2:4] / 2], -1),
                        (batch, 1, -1, 4))
        inter = tf.reduce_prod(tf.maximum(tf.minimum(pb[..., 2:], tb[..., 2:]) - tf.maximum(pb[..., :2], tb[..., :2]), 0.0), -1)
        area = lambda b: tf.reduce_prod(b[..., 2:] - b[..., :2], -1)  # noqa: E731
        iou = inter / tf.maximum(area(pb) + area(tb) - inter, 1e-9)
        iou = iou * tf.reshape(obj, (batch, 1, -1))
        ignore = tf.cast(tf.reshape(tf.reduce_max(iou, -1), tf.shape(obj)) < IGNORE_IOU, tf.float32)
        conf_loss = obj * bce(obj, p[..., 4:5]) + (1.0 - obj) * bce(obj, p[..., 4:5]) * ignore
        cls_loss = obj * bce(y_true[..., 5:], p[..., 5:])
        total = (tf.reduce_sum(xy_loss, [1, 2, 3, 4]) + tf.reduce_sum(wh_loss, [1, 2, 3, 4])
                 + tf.reduce_sum(conf_loss, [1, 2, 3, 4]) + tf.reduce_sum(cls_loss, [1, 2, 3, 4]))
        return total

    loss.__name__ = f"yolo_loss_{gh}x{gw}"
    return loss


def train(config: TrainConfig):
    """Import (and optionally fine-tune) yolo-pico; saves it atomically to `config.out`."""
    import keras

    def build():
        model = initial_model(config)
        if config.init != "scratch":
            # imported BN layers are identities carrying folded biases: keep them frozen (inference mode)
            for layer in model.layers:
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False
        return model

    def compile(model, train_ds):
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                      loss=[yolo_loss(h) for h in range(len(GRIDS))])

    def datasets():
        from models.yolo.data import load_dataset

        train_ds = load_dataset(config.train_split, data_dir=config.data_dir, tfds_dir=config.tfds_dir,
                                batch_size=config.batch_size, shuffle=True, augment=True, seed=config.seed,
                                limit=config.limit)
        val_ds = None if config.data_dir else load_dataset(config.val_split, tfds_dir=config.tfds_dir, batch_size=64,
                                                           limit=500)
        return train_ds, val_ds

    return fit.run_training(config, build, compile, datasets, monitor="loss" if config.data_dir else "val_loss")


parse_args, main = fit.cli(TrainConfig, train, __doc__, RECIPE, help={
    "init": "weights to start from: the Efinix int8 reference (dequantized), a Darknet .weights, or random",
    "train_split": "TFDS coco/2017 split",
    "val_split": "TFDS coco/2017 split",
    "limit": "first N training images only",
    "cfg": "Darknet cfg of the network",
    "weights": "--init darknet: .weights file; --init efinix: explicit path of yolo_person_detect.tflite",
}, choices={"init": ("efinix", "darknet", "scratch")})

if __name__ == "__main__":
    from common.cli import run

    run(main)
