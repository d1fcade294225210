"""MLPerf Tiny Deep AutoEncoder (anomaly detection): 640-128-128-128-128-8-128-128-128-128-640,
Dense + BatchNorm + ReLU everywhere but the output layer; 269,992 parameters like `ad01.h5`."""
from __future__ import annotations

from common import env  # noqa: F401
from models.autoencoder.recipe import RECIPE

HIDDEN = (128, 128, 128, 128, 8, 128, 128, 128, 128)


def build_model(input_dim: int = RECIPE.input_shape[0], hidden: tuple[int, ...] = HIDDEN):
    """The MLPerf Tiny `keras_model.get_model` graph (layer order matches ad01.h5)."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(input_dim,), name="input")
    x = inputs
    for units in hidden:
        x = layers.Dense(units)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
    outputs = layers.Dense(input_dim)(x)
    return keras.Model(inputs, outputs, name="deep_autoencoder")
