"""Training plumbing every model shares: callbacks, resume, distribution strategy, option parsing.
Model files are saved and loaded by `common.graph.keras_io`."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Callable, ClassVar

from common import env  # noqa: F401
from common.graph.keras_io import load_model, save_model  # noqa: F401  (their home before common.graph.keras_io)
from common.workers import for_this_worker

STRATEGIES = ("default", "mirrored", "multiworker")


@dataclass
class TrainConfig:
    """The options every model's training takes. A model subclasses it with its own defaults and
    options, and names itself in `model` (its outputs default to build/<model>/)."""

    model: ClassVar[str] = ""
    init: str = "scratch"  # "scratch", or where the model's published weights come from
    epochs: int = 0  # 0 with a pretrained --init: import only
    batch_size: int = 32
    learning_rate: float = 1e-3
    train_split: str = "train"
    val_split: str = "validation"
    seed: int = 0
    steps_per_epoch: int | None = None  # cap for quick runs/tests
    weights: str | None = None  # an explicit path to the published weights
    data_dir: str | None = None  # folder dataset (the model's layout)
    tfds_dir: str | None = None  # TFDS data directory
    workdir: str = ""  # default build/<model>/train
    out: str = ""  # default build/<model>/model.keras
    strategy: str = "default"
    restart: bool = False  # discard the resume state in workdir
    early_stopping: int = 0  # stop after this many epochs without a better val_loss, keep the best (0: off)

    def __post_init__(self):
        self.workdir = self.workdir or f"build/{self.model}/train"
        self.out = self.out or f"build/{self.model}/model.keras"


def standard_callbacks(workdir: str | os.PathLike, monitor: str = "val_loss", config=None) -> list:
    """Checkpoint every epoch (and the best as best.keras), resume after interruption, stop on NaN, log to
    history.csv and TensorBoard; with `config.early_stopping` > 0 stop when the monitored loss has not
    improved for that many epochs and keep the best weights.

    The backup callback (`common.training.resume`) keeps the weights of the last finished epoch and the
    run's configuration `config` in `workdir/backup`, written atomically; re-running the same
    command resumes from there, another configuration is refused. It is removed once training
    ends normally.
    """
    import keras

    from common.training.resume import backup_callback, history_callback

    workdir = for_this_worker(workdir)
    (workdir / "checkpoints").mkdir(parents=True, exist_ok=True)
    return [
        history_callback(workdir),  # before the backup: an epoch's row is on disk before its state
        backup_callback(workdir, config if config is not None else {}),
        keras.callbacks.ModelCheckpoint(str(workdir / "checkpoints" / "epoch_{epoch:03d}.keras")),
        keras.callbacks.ModelCheckpoint(str(workdir / "best.keras"), monitor=monitor, save_best_only=True),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.TensorBoard(str(workdir / "logs"), write_graph=False, profile_batch=0),
    ] + ([keras.callbacks.EarlyStopping(monitor=monitor, patience=config.early_stopping, restore_best_weights=True,
                                        verbose=1)] if getattr(config, "early_stopping", 0) else [])


def get_strategy(name: str = "default"):
    """`default` (one device), `mirrored` (all local GPUs) or `multiworker` (hosts from TF_CONFIG)."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multiworker reads the cluster from $TF_CONFIG, which is not set")
        json.loads(os.environ["TF_CONFIG"])  # fail early on malformed JSON
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


def fit_custom_loop(model, dataset, per_example_loss, *, epochs: int, steps_per_epoch: int, strategy,
                    verbose: bool = True) -> list[float]:
    """Synchronous data-parallel training loop for strategies `model.fit` cannot drive.

    Keras 3's `fit` does not support MultiWorkerMirroredStrategy (keras-team/keras#20585); its
    optimizers do all-reduce gradients inside `strategy.run`, so a plain loop trains in lockstep.
    `model` must be compiled (optimizer) inside `strategy.scope()`; `dataset` yields (x, y)
    global batches and is repeated as needed; `per_example_loss(y, pred)` returns one loss per
    sample. Returns the mean loss of each epoch."""
    import tensorflow as tf

    iterator = iter(strategy.experimental_distribute_dataset(dataset.repeat()))

    @tf.function
    def train_step(batch):
        def replica_step(x, y):
            with tf.GradientTape() as tape:
                prediction = model(x, training=True)
                loss = tf.nn.compute_average_loss(per_example_loss(y, prediction))  # / global batch
                if model.losses:
                    loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            grads = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        losses = strategy.run(replica_step, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    @tf.function
    def averaged_statistics():
        # BatchNormalization moving statistics are updated from each worker's own shard; averaging
        # them keeps every worker's model identical (trainable weights are all-reduced already).
        def replica_fn():
            ctx = tf.distribute.get_replica_context()
            return [ctx.all_reduce(tf.distribute.ReduceOp.MEAN, tf.identity(v.value)) for v in model.non_trainable_variables]

        return strategy.run(replica_fn)

    history = []
    for epoch in range(epochs):
        total = 0.0
        for _ in range(steps_per_epoch):
            total += float(train_step(next(iterator)))
        for variable, value in zip(model.non_trainable_variables, averaged_statistics()):
            variable.assign(strategy.experimental_local_results(value)[0])
        history.append(total / steps_per_epoch)
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: loss {history[-1]:.4f}", flush=True)
    return history


COMMON_HELP = {
    "epochs": "training epochs (0 with a pretrained --init: import only)",
    "batch_size": "global batch size",
    "learning_rate": "initial learning rate",
    "train_split": "split to train on",
    "val_split": "split to validate on",
    "seed": "seed of weight init, shuffling and augmentation",
    "steps_per_epoch": "cap the steps per epoch (quick runs, tests)",
    "workdir": "checkpoints, resume state, TensorBoard logs",
    "out": "the trained .keras model",
    "strategy": "tf.distribute strategy (multiworker reads $TF_CONFIG)",
    "early_stopping": "stop after this many epochs without a better validation loss and keep the best epoch's "
                      "weights (0: train every epoch; counted again from a resumed epoch)",
}


def _arg_type(annotation: str, default):
    if default is not None:
        return type(default)
    for name, kind in (("int", int), ("float", float)):
        if annotation.split("|")[0].strip() == name:
            return kind
    return str


def parse_config(config_cls, argv: list[str] | None, description: str | None,
                 help: dict[str, str] | None = None, choices: dict[str, tuple] | None = None,
                 no_folder: str | None = None, recipe=None):
    """A `--flag` per field of the dataclass `config_cls` (defaults, types and choices from it);
    returns the filled dataclass. `help`/`choices` add to COMMON_HELP and the strategy choices.
    Fields `data_dir`/`tfds_dir` get the zoo's data-option help: from `recipe` (its folder layout and
    TFDS dataset; a recipe without a folder source refuses --data-dir), else from `help`; `no_folder`
    (a TFDS dataset name) refuses --data-dir for a config without a `data_dir` field."""
    import argparse
    import dataclasses

    from common.cli import DATA_DIR_HELP, NO_FOLDER_HELP, TFDS_DIR_HELP, ArgumentParser, refuse_folder

    defaults = config_cls()
    help = {**COMMON_HELP, **(help or {})}
    choices = {"strategy": STRATEGIES, **(choices or {})}
    class Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
        pass

    help.setdefault("restart", "discard the resume state in --workdir and train from epoch 0")
    refused = None
    if recipe is not None:
        help.setdefault("tfds_dir", f"holds {recipe.data.tfds}" if recipe.data.tfds else "")
        if recipe.data.folder is None:
            refused = recipe.data.tfds
        else:
            help.setdefault("data_dir", recipe.data.folder.replace("%", "%%"))  # argparse formats help with %
    if "data_dir" in help:  # the zoo's data options mean the same in every CLI (common.cli.add_data_args)
        help["data_dir"] = DATA_DIR_HELP.format(layout=help["data_dir"])
    help["tfds_dir"] = TFDS_DIR_HELP + (f"; {help['tfds_dir']}" if help.get("tfds_dir") else "")
    parser = ArgumentParser(description=description, formatter_class=Formatter)
    for f in dataclasses.fields(config_cls):
        default = getattr(defaults, f.name)
        kwargs = {"default": default, "help": help.get(f.name), "choices": choices.get(f.name)}
        if isinstance(default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif f.name == "data_dir" and refused:
            kwargs.update(type=refuse_folder(refused), help=NO_FOLDER_HELP.format(dataset=refused))
        else:
            kwargs["type"] = _arg_type(str(f.type), default)
        parser.add_argument("--" + f.name.replace("_", "-"), **kwargs)
    if no_folder:
        parser.add_argument("--data-dir", type=refuse_folder(no_folder), default=argparse.SUPPRESS,
                            help=NO_FOLDER_HELP.format(dataset=no_folder))
    values = vars(parser.parse_args(argv))
    values.pop("debug", None)  # handled by common.cli.run
    config = config_cls(**values)
    try:
        check_train_config(config)
    except ValueError as exc:
        parser.exit(2, f"error: {exc}\n")
    return config


def cli(config_cls, train_fn: Callable, description: str | None, recipe, help: dict[str, str] | None = None,
        choices: dict[str, tuple] | None = None, check: Callable | None = None):
    """`(parse_args, main)` of a model's train step: a --flag per field of its TrainConfig (the data
    options as the recipe describes them), `check(config)` before anything loads, then `train_fn`."""
    def parse_args(argv: list[str] | None = None):
        config = parse_config(config_cls, argv, description, help=help, choices=choices, recipe=recipe)
        if check is not None:
            check(config)
        return config

    def main(argv: list[str] | None = None) -> None:
        train_fn(parse_args(argv))

    return parse_args, main


def check_train_config(config) -> None:
    """Reject option values that cannot train (ValueError, one line naming the option): negative
    epochs, `--epochs 0` from scratch (it would save an untrained model), batch size or steps < 1."""
    epochs = getattr(config, "epochs", None)
    if epochs is not None and epochs < 0:
        raise ValueError(f"--epochs must be 0 or more, not {epochs}")
    if epochs == 0 and getattr(config, "init", None) == "scratch":
        raise ValueError("--epochs 0 with --init scratch would save an untrained model; give --epochs 1 or more "
                         "(--epochs 0 means: import pretrained weights without fine-tuning)")
    for name in ("batch_size", "steps_per_epoch", "limit"):
        value = getattr(config, name, None)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be 1 or more, not {value}")
    learning_rate = getattr(config, "learning_rate", None)
    if learning_rate is not None and not learning_rate > 0:
        raise ValueError(f"--learning-rate must be above 0, not {learning_rate}")


def prepare_run(config) -> int:
    """First step of every model's `train(config)`, before data or weights are loaded: check the
    options (ValueError) and the resume state in `config.workdir` (common.training.resume.ResumeError: another
    configuration's or a damaged state; `config.restart` discards it). Returns the epoch training
    resumes from (0 = from the start)."""
    from common.training.resume import check_resume

    check_train_config(config)
    if getattr(config, "epochs", 0) == 0:
        return 0  # nothing is trained: the resume state is neither read nor touched
    return check_resume(config)


def import_weights(model, path):
    """`model` with the weights of a published Keras file whose layers (and order) are the same."""
    import keras

    reference = keras.models.load_model(path, compile=False)
    if model.count_params() != reference.count_params():
        raise ValueError(f"{path} has {reference.count_params()} parameters, our model {model.count_params()}")
    model.set_weights(reference.get_weights())
    return model


def run_training(config: TrainConfig, build: Callable, compile: Callable, datasets: Callable | None = None,
                 callbacks: list | tuple = (), monitor: str = "val_loss", **fit_kwargs):
    """What every model's `train(config)` does: check the options and the resume state (before any
    data or weights are loaded), seed, `build()` the model under the distribution strategy, and with
    `config.epochs > 0` get `datasets()` -> (train, validation), `compile(model, train_ds)` and fit
    (checkpoints, resume, NaN stop, TensorBoard); then save `config.out` atomically."""
    prepare_run(config)
    env.set_seed(config.seed)
    strategy = get_strategy(config.strategy)
    with strategy.scope():
        model = build()
    if config.epochs > 0:
        train_ds, val_ds = datasets()
        with strategy.scope():
            compile(model, train_ds)
        fit(model, train_ds, val_ds, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
            workdir=config.workdir, config=config, callbacks=callbacks, monitor=monitor, **fit_kwargs)
    save_model(model, config.out)
    return model


def fit(model, train_ds, val_ds, *, epochs: int, steps_per_epoch: int | None, workdir: str | os.PathLike,
        callbacks: list | tuple = (), monitor: str = "val_loss", config=None, **fit_kwargs):
    """`model.fit` with the standard callbacks (checkpoints, resume, NaN stop, TensorBoard);
    `config` (the run's TrainConfig) is stored with the resume state and must match to resume.

    Under MultiWorkerMirroredStrategy (which `model.fit` cannot drive in Keras 3) it trains with
    `fit_custom_loop` instead: same optimizer and loss, no validation or callbacks."""
    import keras
    import tensorflow as tf

    strategy = model.distribute_strategy  # the strategy whose scope built the model
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        loss = model.loss.call if isinstance(model.loss, keras.losses.Loss) else keras.losses.get(model.loss)
        if steps_per_epoch is None:
            steps_per_epoch = int(train_ds.cardinality())
            if steps_per_epoch < 1:
                raise ValueError("multi-worker training needs --steps-per-epoch for a dataset of unknown length")
        return fit_custom_loop(model, train_ds, loss, epochs=epochs, steps_per_epoch=steps_per_epoch,
                               strategy=strategy)
    return model.fit(
        train_ds.repeat() if steps_per_epoch else train_ds,
        validation_data=val_ds,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=standard_callbacks(workdir, monitor=monitor, config=config) + list(callbacks),
        verbose=2 if os.environ.get("CI") else 1,
        **fit_kwargs,
    )
