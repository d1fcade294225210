"""MobileNetV1 alpha 0.25 for Visual Wake Words, as MLPerf Tiny's `vww_96.h5`, in Keras 3.

A 3x3/2 stem convolution (a depthwise one with multiplier 8 for the 1-channel input) and 13
depthwise-separable blocks (14 convolutional stages, as in the MobileNetV1 paper), then 3x3 average
pooling, a fully connected layer and softmax over (non_person, person). Layer names follow the
reference .h5 so its weights load by name.
"""
from __future__ import annotations

from common import env  # noqa: F401
from common.graph.layers import StaticFlatten
from models.mobilenet_vww.recipe import RECIPE

ALPHA = 0.25
WEIGHT_DECAY = 1e-4
# (pointwise filters at alpha 1, depthwise stride) of the 13 depthwise-separable blocks
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def _suffix(i: int) -> str:
    return f"_{i}" if i else ""


def build_model(input_shape: tuple[int, ...] = RECIPE.input_shape, num_classes: int = len(RECIPE.data.class_names),
                alpha: float = ALPHA):
    """MobileNetV1 exactly as MLPerf Tiny's `mobilenet_v1` for VWW (conv biases kept, BN, ReLU)."""
    import keras
    from keras import layers

    counters = {"conv2d": 0, "depthwise_conv2d": 0, "batch_normalization": 0, "activation": 0}

    def name(kind: str) -> str:
        n = counters[kind]
        counters[kind] += 1
        return f"{kind}{_suffix(n)}"

    def bn_relu(x):
        x = layers.BatchNormalization(name=name("batch_normalization"))(x)
        return layers.Activation("relu", name=name("activation"))(x)

    def conv(x, filters: int, kernel: int, strides: int):
        return layers.Conv2D(filters, kernel, strides=strides, padding="same", kernel_initializer="he_normal",
                             kernel_regularizer=keras.regularizers.l2(WEIGHT_DECAY), name=name("conv2d"))(x)

    inputs = keras.Input(shape=input_shape, name="input_1")
    if input_shape[-1] == 1:
        # One input channel: a depthwise conv with depth multiplier F is the same 3x3 conv (same kernel
        # shape, (3, 3, 1, F)) and runs faster under TFLM (0.49 vs 0.63 ms), as in the Efinix file.
        stem = layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=int(32 * alpha),
                                      depthwise_initializer="he_normal",
                                      depthwise_regularizer=keras.regularizers.l2(WEIGHT_DECAY), name=name("conv2d"))
        x = bn_relu(stem(inputs))
    else:
        x = bn_relu(conv(inputs, int(32 * alpha), 3, 2))
    for filters, strides in BLOCKS:
        x = layers.DepthwiseConv2D(3, strides=strides, padding="same", name=name("depthwise_conv2d"))(x)
        x = bn_relu(x)
        x = bn_relu(conv(x, int(filters * alpha), 1, 1))
    pool = x.shape[1]
    x = layers.AveragePooling2D(pool_size=pool, strides=pool, name="average_pooling2d")(x)
    x = StaticFlatten(name="flatten")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs, name="mobilenet_v1_vww")
