"""--early-stopping N (every model's training, common/training/fit.py): training stops N epochs after the
best validation loss, and the model keeps the best epoch's weights."""
from __future__ import annotations

import numpy as np


def test_early_stopping_stops_after_patience_and_keeps_the_best_epoch(tmp_path):
    import keras

    from common.training.fit import TrainConfig, standard_callbacks

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    config = TrainConfig(early_stopping=2, workdir=str(tmp_path))
    # validation labels are the training labels flipped: the better the fit, the worse the validation loss
    history = model.fit(x, y, validation_data=(x, 1 - y), epochs=30, verbose=0,
                        callbacks=standard_callbacks(tmp_path, config=config))
    losses = history.history["val_loss"]
    assert len(losses) == int(np.argmin(losses)) + 1 + 2 < 30
    assert abs(model.evaluate(x, 1 - y, verbose=0) - min(losses)) < 1e-5  # the best epoch's weights
    assert (tmp_path / "best.keras").is_file()


def test_early_stopping_is_an_option_of_every_training_cli():
    from models.resnet_cifar.train import parse_args

    assert parse_args(["--early-stopping", "5"]).early_stopping == 5
    assert parse_args([]).early_stopping == 0
