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


@keras.saving.register_keras_serializable(package="zoo")
class AcceleratorPReLU(keras.layers.Layer):
    """PReLU exported as MUL + MAXIMUM + ADD (ops the Efinix accelerator runs; TFLite's PRELU is not).

    prelu(x) = x + c * min(x, 0) with c = alpha - 1, and c * min(x, 0) = s * max(-|c| * x, 0) with
    s = -1 where c > 0, else +1. Exact for every alpha. The Efinix reference file uses
    `max(x, alpha * x)`, which equals PReLU only for alpha <= 1 (MediaPipe's face landmark net has
    alphas up to 1.37).

    Why this form: in int8, MAXIMUM/MINIMUM share one scale between input and output, and with a
    constant operand the converter derives it from the clipped output range; applied to the block's
    activation itself (`min(x, 0)`) that clipped `x` for every consumer (facemesh: NME 2.2% instead of 0.7%).
    Here the MAXIMUM owns its input (the MUL), so `x` keeps its calibrated range. `max(u, -EPS)`
    rather than `max(u, 0)`: the converter turns the latter into RELU, which the accelerator lacks;
    in int8 -EPS rounds to the zero point, i.e. it is exactly a ReLU. The sign MUL is only emitted
    for layers that have an alpha > 1 (`steep`).
    """

    EPS = 1e-6

    def __init__(self, alpha_shape: tuple[int, ...] | None = None, steep: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.alpha_shape = tuple(alpha_shape) if alpha_shape is not None else None
        self.steep = bool(steep)

    def build(self, input_shape):
        shape = self.alpha_shape or (1, 1, input_shape[-1])
        self.alpha = self.add_weight(name="alpha", shape=shape, initializer="zeros")

    def call(self, x):
        c = self.alpha - 1.0
        r = keras.ops.maximum(x * (-keras.ops.abs(c)), -self.EPS)
        if self.steep:
            r = r * keras.ops.where(c > 0, -1.0, 1.0)
        return x + r

    def get_config(self):
        return {**super().get_config(), "alpha_shape": self.alpha_shape, "steep": self.steep}


@keras.saving.register_keras_serializable(package="zoo")
class ChannelPad(keras.layers.Layer):
    """Zero-pad the channel axis at the end (the residual shortcut when a block widens): one PAD op."""

    def __init__(self, extra_channels: int, **kwargs):
        super().__init__(**kwargs)
        self.extra_channels = int(extra_channels)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + self.extra_channels)

    def call(self, x):
        return keras.ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, self.extra_channels]])

    def get_config(self):
        return {**super().get_config(), "extra_channels": self.extra_channels}


@keras.saving.register_keras_serializable(package="zoo")
class StaticReshape(keras.layers.Layer):
    """Reshape to (batch, *target_shape) with a constant shape operand: one RESHAPE op (Keras'
    Reshape reads the batch size at run time and exports SHAPE/STRIDED_SLICE/PACK)."""

    def __init__(self, target_shape: tuple[int, ...], **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.target_shape)

    def call(self, x):
        return keras.ops.reshape(x, (-1, *self.target_shape))

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


@keras.saving.register_keras_serializable(package="zoo")
class NearestUpsample(keras.layers.Layer):
    """Nearest-neighbour upsampling by an integer factor that exports as one RESIZE_NEAREST_NEIGHBOR
    (Keras' UpSampling2D exports as SHAPE/STRIDED_SLICE/TILE/RESHAPE ops that break int8 accuracy)."""

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        return (input_shape[0], None if h is None else h * self.factor, None if w is None else w * self.factor,
                input_shape[3])

    def call(self, inputs):
        h, w = inputs.shape[1], inputs.shape[2]
        return keras.ops.image.resize(inputs, (h * self.factor, w * self.factor), interpolation="nearest")

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
