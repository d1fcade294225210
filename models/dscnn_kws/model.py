"""MLPerf Tiny DS-CNN (small) for keyword spotting: 49x10x1 MFCCs -> 12 classes, 24,908 parameters."""
from __future__ import annotations

from common import env  # noqa: F401
from common.graph.layers import StaticFlatten
from models.dscnn_kws.recipe import RECIPE

FILTERS = 64
NUM_DS_BLOCKS = 4
WEIGHT_DECAY = 1e-4
REFERENCE_PARAMS = 24_908  # MLPerf Tiny kws_ref_model, BatchNorm statistics included


def build_model(input_shape: tuple[int, ...] = RECIPE.input_shape, num_classes: int = len(RECIPE.data.class_names)):
    """DS-CNN exactly as MLPerf Tiny's `keras_model.py` ("ds_cnn"): a 10x4/2 conv, four depthwise-
    separable blocks, average pooling over the 25x5 map and a softmax classifier; layer (and weight)
    order matches kws_ref_model."""
    import keras
    from keras import layers

    l2 = keras.regularizers.l2(WEIGHT_DECAY)
    inputs = keras.Input(shape=input_shape, name="input")
    x = layers.Conv2D(FILTERS, (10, 4), strides=(2, 2), padding="same", kernel_regularizer=l2)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(0.2)(x)
    for _ in range(NUM_DS_BLOCKS):
        x = layers.DepthwiseConv2D((3, 3), padding="same", depth_multiplier=1, depthwise_regularizer=l2)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2D(FILTERS, (1, 1), padding="same", kernel_regularizer=l2)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
    x = layers.Dropout(0.4)(x)
    # Average over the whole 25x5 map: kws_ref_model's graph pools 25x5 (MLPerf's source reads
    # int(49/2) = 24, which would drop the last row and not reproduce the reference outputs).
    x = layers.AveragePooling2D(pool_size=tuple(x.shape[1:3]))(x)
    x = StaticFlatten()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="ds_cnn_kws")
