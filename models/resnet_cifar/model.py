"""MLPerf Tiny ResNet-8 v1 for CIFAR-10 (78,666 parameters)."""
from __future__ import annotations

from common import env  # noqa: F401
from common.graph.layers import StaticFlatten
from models.resnet_cifar.recipe import RECIPE

WEIGHT_DECAY = 1e-4


def _conv(filters: int, kernel: int, strides: int):
    import keras

    return keras.layers.Conv2D(
        filters, kernel, strides=strides, padding="same",
        kernel_initializer="he_normal", kernel_regularizer=keras.regularizers.l2(WEIGHT_DECAY),
    )


def _residual_stack(x, filters: int, strides: int):
    """Two 3x3 convs with BN; a strided 1x1 conv on the shortcut when the shape changes."""
    from keras import layers

    y = _conv(filters, 3, strides)(x)
    y = layers.BatchNormalization()(y)
    y = layers.Activation("relu")(y)
    y = _conv(filters, 3, 1)(y)
    # The shortcut conv is created before the second BN to keep MLPerf's layer (and weight) order.
    shortcut = x if strides == 1 else _conv(filters, 1, strides)(x)
    y = layers.BatchNormalization()(y)
    y = layers.Add()([shortcut, y])
    return layers.Activation("relu")(y)


def build_model(input_shape: tuple[int, ...] = RECIPE.input_shape, num_classes: int = len(RECIPE.data.class_names)):
    """ResNet-8 v1 exactly as MLPerf Tiny's `resnet_v1_eembc` (layer order matches pretrainedResnet.h5)."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="input")
    x = _conv(16, 3, 1)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = _residual_stack(x, 16, 1)
    x = _residual_stack(x, 32, 2)
    x = _residual_stack(x, 64, 2)
    pool = x.shape[1]
    x = layers.AveragePooling2D(pool_size=pool, strides=pool)(x)
    x = StaticFlatten()(x)
    outputs = layers.Dense(num_classes, activation="softmax", kernel_initializer="he_normal")(x)
    return keras.Model(inputs, outputs, name="resnet8_cifar")
