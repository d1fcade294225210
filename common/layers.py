"""Keras layers that export to accelerator-friendly TFLite graphs."""
from __future__ import annotations

from common import env  # noqa: F401
import keras


@keras.saving.register_keras_serializable(package="zoo")
class StaticFlatten(keras.layers.Layer):
    """Flatten to (batch, features) with a constant target shape.

    Keras 3's Flatten reads the batch size at run time, which the converter turns into
    SHAPE + STRIDED_SLICE + PACK ops that the Efinix accelerator does not run; a reshape to
    (-1, features) exports as a single RESHAPE and keeps the batch dimension dynamic.
    """

    def compute_output_shape(self, input_shape):
        features = 1
        for d in input_shape[1:]:
            features *= d
        return (input_shape[0], features)

    def call(self, inputs):
        return keras.ops.reshape(inputs, (-1, self.compute_output_shape(inputs.shape)[1]))
