"""Train the DS-CNN from scratch, or import MLPerf Tiny's kws_ref_model weights (and fine-tune); or
train it on your own words (`--keywords`, a Speech Commands folder): `--init pretrained` keeps the
published backbone and gives it a head of your classes (the rows of the words it knows come along).

    python -m models.dscnn_kws.train --init pretrained --epochs 0 --out build/dscnn_kws/model.keras
    python -m models.dscnn_kws.train --init scratch --epochs 36 --data-dir DIR/speech_commands_v0.02
    python -m models.dscnn_kws.train --data-dir DIR --keywords yes,no,up,down --init pretrained --epochs 10 \\
        --out build/mine/model.keras

The reference is a TF SavedModel whose `tf.saved_model.load` fails in TF 2.21 (optimizer slots),
so its variables are read with `tf.train.load_checkpoint` and mapped onto our layers by order.
The mapping is proven by running the SavedModel's own serving graph (TF1 loader, graph mode)
on the same inputs: the float outputs must agree (`check_import`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

import numpy as np

from common.atomic import write_json
from common.pipeline.references import fetch_file
from common.training import fit
from models.dscnn_kws import keywords as kw
from models.dscnn_kws.data import load_dataset, scan_folder
from models.dscnn_kws.model import build_model
from models.dscnn_kws.recipe import RECIPE

# Checkpoint variable names per Keras layer type, in `layer.weights` order.
_CHECKPOINT_NAMES = {
    "Conv2D": ("kernel", "bias"),
    "DepthwiseConv2D": ("depthwise_kernel", "bias"),
    "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
    "Dense": ("kernel", "bias"),
}
IMPORT_TOLERANCE = 1e-5  # max |softmax difference| accepted between our model and the SavedModel


@dataclass
class TrainConfig(fit.TrainConfig):
    model: ClassVar[str] = RECIPE.name
    epochs: int = 36  # MLPerf Tiny's schedule; 0 with --init pretrained = import only
    batch_size: int = 100
    learning_rate: float = 5e-4  # MLPerf's step schedule: x1 until epoch 12, x0.2 until 24, x0.04 after
    keywords: str = ""  # your words (comma-separated) as the classes, + _silence_, _unknown_; "": the zoo's 12


def reference_dir(path: str | os.PathLike | None = None) -> Path:
    """The kws_ref_model folder (variables/ verified by sha256); `path` overrides the registry."""
    if path:
        root = Path(path)
        fetch_file(RECIPE, "mlperf_kws_variables_index", root / "variables" / "variables.index")
        fetch_file(RECIPE, "mlperf_kws_variables_data", root / "variables" / "variables.data-00000-of-00001")
        return root
    index = fetch_file(RECIPE, "mlperf_kws_variables_index")
    data = fetch_file(RECIPE, "mlperf_kws_variables_data")
    if index.parent != data.parent:
        raise RuntimeError(f"kws_ref_model variables are split across {index.parent} and {data.parent}")
    return index.parent.parent


def load_pretrained(path: str | os.PathLike | None = None):
    """Our DS-CNN with the kws_ref_model weights (`layer_with_weights-<i>` = our i-th weighted layer)."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(reference_dir(path) / "variables" / "variables"))
    model = build_model()
    weighted = [layer for layer in model.layers if layer.weights]
    for i, layer in enumerate(weighted):
        names = _CHECKPOINT_NAMES[type(layer).__name__]
        values = [reader.get_tensor(f"layer_with_weights-{i}/{n}/.ATTRIBUTES/VARIABLE_VALUE") for n in names]
        layer.set_weights(values)
    if reader.has_tensor(f"layer_with_weights-{len(weighted)}/kernel/.ATTRIBUTES/VARIABLE_VALUE"):
        raise RuntimeError("kws_ref_model has more weighted layers than our DS-CNN")
    return model


def with_classes(published, keywords: tuple[str, ...]):
    """The published DS-CNN with a head of the classes of `keywords`: every layer but the classifier
    as published; the classifier's columns of the classes the published model knows (its words,
    _silence_, _unknown_) copied, the others newly initialised."""
    classes = kw.class_names(keywords)
    if classes == kw.ZOO_CLASSES:
        return published
    model = build_model(num_classes=len(classes))
    for ours, theirs in zip(model.layers[:-1], published.layers[:-1]):
        ours.set_weights(theirs.get_weights())
    kernel, bias = model.layers[-1].get_weights()
    old_kernel, old_bias = published.layers[-1].get_weights()
    for i, name in enumerate(classes):
        if name in kw.ZOO_CLASSES:
            j = kw.ZOO_CLASSES.index(name)
            kernel[:, i], bias[i] = old_kernel[:, j], old_bias[j]
    model.layers[-1].set_weights([kernel, bias])
    return model


def reference_predict(x: np.ndarray, path: str | os.PathLike | None = None) -> np.ndarray:
    """Softmax outputs of the original kws_ref_model SavedModel (its serving graph, TF1 loader)."""
    import tensorflow as tf

    root = reference_dir(path)
    graph = fetch_file(RECIPE, "mlperf_kws_saved_model_pb", root / "saved_model.pb" if path else None)
    if graph.parent != root:
        raise RuntimeError(f"kws_ref_model saved_model.pb ({graph}) is not beside its variables/ ({root})")
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(root))
        signature = meta.signature_def["serving_default"]
        (inp,) = signature.inputs.values()
        (out,) = signature.outputs.values()
        return sess.run(out.name, {inp.name: np.asarray(x, np.float32)})


def check_import(model, x: np.ndarray, path: str | os.PathLike | None = None) -> dict:
    """Max |difference| of our model vs the reference SavedModel on `x`; raises if above tolerance."""
    ours = model.predict(x, batch_size=256, verbose=0)
    theirs = reference_predict(x, path)
    diff = float(np.max(np.abs(ours - theirs)))
    result = {"n": int(len(x)), "max_abs_diff": diff, "tolerance": IMPORT_TOLERANCE,
              "argmax_agreement": float(np.mean(ours.argmax(-1) == theirs.argmax(-1)))}
    if diff > IMPORT_TOLERANCE:
        raise RuntimeError(f"imported DS-CNN differs from kws_ref_model: {result}")
    return result


def probe_features(n: int = 64, seed: int = 0) -> np.ndarray:
    """MFCC-scaled random inputs for the import check when no clips are at hand (c0 ~ -100..40)."""
    rng = np.random.default_rng(seed)
    scale = np.array([40, 12, 8, 6, 5, 4, 4, 3, 3, 3], np.float32)[None, None, :, None]
    x = rng.normal(size=(n, *RECIPE.input_shape)).astype(np.float32) * scale
    x[:, :, 0] -= 60
    return x


def _lr_schedule(base: float):
    def schedule(epoch: int, lr: float) -> float:
        return base if epoch < 12 else base * 0.2 if epoch < 24 else base * 0.04
    return schedule


def train(config: TrainConfig, extra_callbacks: list | None = None):
    """Build or import the model (an import is checked against the SavedModel's own graph), fit it for
    `config.epochs` and save it atomically to `config.out`."""
    import keras

    keywords = _check_layout(config)  # a bad folder or word list is refused here, before any weights load

    def build():
        if config.init != "pretrained":
            return build_model(num_classes=len(kw.class_names(keywords) if keywords else kw.ZOO_CLASSES))
        model = load_pretrained(config.weights)
        check = check_import(model, probe_features(), config.weights)
        write_json(Path(config.workdir) / "import_check.json", check)
        print(f"import check vs kws_ref_model SavedModel: {check}")
        return with_classes(model, keywords) if keywords else model

    def compile(model, train_ds):
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])

    def datasets():
        return (load_dataset(config.train_split, data_dir=config.data_dir, tfds_dir=config.tfds_dir,
                             batch_size=config.batch_size, augment_data=True, shuffle=True, seed=config.seed,
                             keywords=keywords),
                load_dataset(config.val_split, data_dir=config.data_dir, tfds_dir=config.tfds_dir, batch_size=256,
                             keywords=keywords))

    schedule = keras.callbacks.LearningRateScheduler(_lr_schedule(config.learning_rate))
    model = fit.run_training(config, build, compile, datasets, callbacks=[schedule, *(extra_callbacks or [])])
    kw.write_classes(config.out, keywords)  # where quantize and evaluate find the classes
    return model


def _check_layout(config: TrainConfig) -> tuple[str, ...] | None:
    """The keywords (None: the zoo's classes), once the folder is known to hold them; one line otherwise."""
    from common.errors import DataLayoutError

    if not config.keywords:
        if config.data_dir:
            try:
                scan_folder(config.data_dir)  # fail early on a wrong layout
            except DataLayoutError as exc:
                raise DataLayoutError(f"{exc}; or name your own words with --keywords w1,w2,...") from None
        return None
    keywords = kw.parse_keywords(config.keywords)
    if not config.data_dir:
        raise DataLayoutError("--keywords reads your words from a folder: give --data-dir")
    counts = kw.keyword_folder(config.data_dir, keywords, config.train_split).counts()
    absent = [w for w in keywords if not counts[w]]
    if absent:
        raise DataLayoutError(f"{config.data_dir}: keyword(s) {', '.join(absent)} have no clip in split "
                              f"{config.train_split!r} (the clips are split by speaker): add clips of more speakers")
    if not kw.keyword_folder(config.data_dir, keywords, config.val_split).clips:
        raise DataLayoutError(f"{config.data_dir}: no clip falls in split {config.val_split!r}: add clips of more "
                              "speakers")
    return keywords


parse_args, main = fit.cli(TrainConfig, train, __doc__, RECIPE, help={
    "init": "start from random weights or MLPerf Tiny's kws_ref_model",
    "train_split": "TFDS split, or train/validation/test/all of a --data-dir folder",
    "weights": "kws_ref_model folder (default: the published files / $ZOO_WEIGHTS_DIR)",
    "keywords": "your words, comma-separated: the classes in this order, then _silence_ and _unknown_ (every "
                "other word folder); needs --data-dir, whose speakers it splits into train/validation/test "
                "(an archive's testing_list.txt/validation_list.txt, else 70/10/20 by a hash of the speaker id); "
                "written beside --out as <name>.classes.txt for quantize and evaluate; empty: the zoo's 12 "
                "classes",
}, choices={"init": ("scratch", "pretrained")}, check=_check_layout)

if __name__ == "__main__":
    from common.cli import run

    run(main)
