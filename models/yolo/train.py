"""Build yolo-pico from its cfg and import weights (Efinix int8 reference by default, or Darknet
`.weights`), optionally fine-tune with a YOLOv3-style loss: on person-only COCO (TFDS), or on a YOLO
folder of your classes (`--data-dir`, classes.txt or `--classes`; `models.yolo.folder`), whose heads are
sized to the classes (3 anchors x (5 + C)) on the Efinix backbone. Such a model's class list is written
beside it (`<out>.classes.txt`, `models.yolo.classes`).

    python -m models.yolo.train --init efinix --epochs 0 --out build/yolo/model.keras
    python -m models.yolo.train --init darknet --weights yolo_pico.weights --epochs 0
    python -m models.yolo.train --init efinix --epochs 10 --tfds-dir ~/tensorflow_datasets   # coco/2017
    python -m models.yolo.train --data-dir my_boxes --epochs 60 --learning-rate 1e-3 --out build/mine/model.keras
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from common.errors import UserError
from common.pipeline.references import fetch_file
from common.training import fit
from common.graph.darknet import load_weights, parse_cfg, yolo_heads
from models.yolo.decode import ANCHORS, INPUT_SIZE
from models.yolo.model import CFG_PATH, build_model, head_layers
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
    classes: str | None = None  # a --data-dir folder's class names, comma-separated (else its classes.txt)


def training_classes(config: TrainConfig) -> tuple[str, ...] | None:
    """The classes the model is trained on, the folder checked (one line naming the fix): `--classes` or
    the folder's classes.txt; None (the person model) for TFDS coco or a zoo person folder without one."""
    from models.yolo.folder import class_names, scan_folder

    if not config.data_dir:
        if config.classes:
            raise UserError("--classes names the classes of a --data-dir folder (TFDS coco/2017 trains the person "
                            "model)")
        return None
    classes = class_names(config.data_dir, config.classes)
    scan_folder(config.data_dir, classes)
    if classes is None:
        print(f"{config.data_dir}: no classes.txt, no --classes: the person model on its class 0 boxes (the zoo's "
              "COCO-labelled folders)")
    return classes


def initial_model(config: TrainConfig, classes: tuple[str, ...] | None = None):
    """The cfg-built model with the weights `config.init` names; for `classes` other than the cfg's count,
    heads of that size whose box and objectness weights are the imported ones (the class weights new)."""
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
    wanted = len(classes) if classes is not None else None
    if wanted is None or all(head["classes"] == wanted for head in yolo_heads(cfg)):
        return model
    sized = build_model(config.cfg, wanted)
    if config.init != "scratch":
        transfer_weights(model, sized, head_layers(cfg))
    return sized


def transfer_weights(source, target, heads: list[str]) -> None:
    """`source`'s weights into `target`, the same network but for the class channels of the `heads`
    convolutions: of those, each anchor's x, y, w, h, objectness weights are copied, its class weights
    keep their fresh initialisation (zero bias)."""
    from models.yolo.classes import ANCHORS_PER_HEAD, BOX_VALUES

    theirs = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        weights = theirs[layer.name].get_weights()
        if layer.name not in heads:
            layer.set_weights(weights)
            continue
        new = layer.get_weights()
        for k, (old, fresh) in enumerate(zip(weights, new)):
            old = old.reshape(*old.shape[:-1], ANCHORS_PER_HEAD, -1)
            fresh = fresh.reshape(*fresh.shape[:-1], ANCHORS_PER_HEAD, -1)
            if k == 1:  # bias
                fresh[...] = 0.0
            fresh[..., :BOX_VALUES] = old[..., :BOX_VALUES]
            new[k] = fresh.reshape(new[k].shape)
        layer.set_weights(new)


def yolo_loss(head: int, num_classes: int = 1):
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
        p = tf.reshape(y_pred, (-1, gh, gw, len(ANCHORS[head]), 5 + num_classes))
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
    """Import (and optionally fine-tune) yolo-pico; saves it atomically to `config.out`, and beside it
    the class list of a model of your classes (`models.yolo.classes`)."""
    import keras

    from models.yolo.classes import write_classes

    classes = training_classes(config)  # a bad folder is refused here, before any weights load
    num_classes = len(classes) if classes is not None else len(RECIPE.data.class_names)
    folder_val = None if not config.data_dir or config.train_split == "all" else config.val_split

    def build():
        model = initial_model(config, classes)
        if config.init != "scratch":
            # imported BN layers are identities carrying folded biases: keep them frozen (inference mode)
            for layer in model.layers:
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False
        return model

    def compile(model, train_ds):
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                      loss=[yolo_loss(h, num_classes) for h in range(len(GRIDS))])

    def datasets():
        from models.yolo.data import load_dataset

        train_ds = load_dataset(config.train_split, data_dir=config.data_dir, tfds_dir=config.tfds_dir,
                                batch_size=config.batch_size, shuffle=True, augment=True, seed=config.seed,
                                limit=config.limit, classes=classes)
        if config.data_dir:  # a folder's val part (none when training on all of it)
            val_ds = None if folder_val is None else load_dataset(folder_val, data_dir=config.data_dir, batch_size=64,
                                                                  classes=classes)
        else:
            val_ds = load_dataset(config.val_split, tfds_dir=config.tfds_dir, batch_size=64, limit=500)
        return train_ds, val_ds

    monitor = "loss" if config.data_dir and folder_val is None else "val_loss"
    model = fit.run_training(config, build, compile, datasets, monitor=monitor)
    write_classes(config.out, classes)
    return model


parse_args, main = fit.cli(TrainConfig, train, __doc__, RECIPE, help={
    "init": "weights to start from: the Efinix int8 reference (dequantized), a Darknet .weights, or random",
    "train_split": "TFDS coco/2017 split; of a --data-dir folder: its part train (default), val, test or all",
    "val_split": "TFDS coco/2017 split; of a --data-dir folder: its part val (none when training on all of it)",
    "classes": "the class names of a --data-dir folder, comma-separated, in class id order (default: its "
               "classes.txt; neither: the zoo's person folder, class 0 = person)",
    "limit": "first N training images only",
    "cfg": "Darknet cfg of the network",
    "weights": "--init darknet: .weights file; --init efinix: explicit path of yolo_person_detect.tflite",
}, choices={"init": ("efinix", "darknet", "scratch")})

if __name__ == "__main__":
    from common.cli import run

    run(main)
