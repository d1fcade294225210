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
    """PReLU exported with ops the Efinix accelerator runs (TFLite's PRELU is not one), exactly.

    `form` is chosen per layer from its alphas (`prelu_form`):
    - "max": every alpha <= 1, prelu(x) = max(x, alpha * x): MUL + MAXIMUM (the Efinix reference's form);
    - "min": every alpha >= 1, prelu(x) = min(x, alpha * x): MUL + MINIMUM;
    - "mixed": both kinds in one layer (MediaPipe's face landmark net has alphas up to 1.37), where no
      single MAXIMUM/MINIMUM is exact: prelu(x) = x + (alpha - 1) * min(x, 0): MINIMUM + MUL + ADD.
      `clamp_mixed_prelu` trades this for the two-op form with alpha clamped to 1.

    In int8, MAXIMUM/MINIMUM share one scale between inputs and output: quantize these layers under
    the `union_same_scale_ranges` pass (common.graph.passes) so that the block's activation `x` keeps its whole
    range for its other consumers instead of the narrower range of the op's output.
    """

    FORMS = ("max", "min", "mixed")

    def __init__(self, alpha_shape: tuple[int, ...] | None = None, form: str = "mixed", **kwargs):
        super().__init__(**kwargs)
        if form not in self.FORMS:
            raise ValueError(f"form must be one of {self.FORMS}, got {form!r}")
        self.alpha_shape = tuple(alpha_shape) if alpha_shape is not None else None
        self.form = form

    def build(self, input_shape):
        shape = self.alpha_shape or (1, 1, input_shape[-1])
        self.alpha = self.add_weight(name="alpha", shape=shape, initializer="zeros")

    def call(self, x):
        if self.form == "max":
            return keras.ops.maximum(x, x * self.alpha)
        if self.form == "min":
            return keras.ops.minimum(x, x * self.alpha)
        c = self.alpha - 1.0
        return x + keras.ops.minimum(x, 0.0) * c

    def get_config(self):
        return {**super().get_config(), "alpha_shape": self.alpha_shape, "form": self.form}


def clamp_mixed_prelu(model):
    """A copy of `model` whose "mixed" AcceleratorPReLU layers use the two-op "max" form with every
    alpha > 1 clamped to 1 (what the Efinix reference computes), and the list of what was clamped:
    `[{"layer", "channels", "alphas"}]`. Other layers and all weights are unchanged."""
    import numpy as np

    clamped: list[dict] = []

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, AcceleratorPReLU) and layer.form == "mixed":
            config["form"] = "max"
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:  # inputs (renamed by clone_model), adds, pools
            continue
        if isinstance(layer, AcceleratorPReLU) and layer.form == "mixed":
            alpha = weights[0]
            channels = np.flatnonzero(alpha.reshape(-1) > 1.0)
            clamped.append({"layer": layer.name, "channels": channels.tolist(),
                            "alphas": [round(float(a), 4) for a in alpha.reshape(-1)[channels]]})
            weights = [np.minimum(alpha, 1.0)]
        copy.get_layer(layer.name).set_weights(weights)
    return copy, clamped


def prelu_form(alpha) -> str:
    """The cheapest exact AcceleratorPReLU form for these alphas: "max", "min" or "mixed"."""
    import numpy as np

    alpha = np.asarray(alpha)
    if np.all(alpha <= 1.0):
        return "max"
    if np.all(alpha >= 1.0):
        return "min"
    return "mixed"


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


@keras.saving.register_keras_serializable(package="zoo")
class GlobalAveragePoolAsPool(keras.layers.Layer):
    """GlobalAveragePooling2D (channels last) as one AVERAGE_POOL_2D over the whole map (+ one RESHAPE
    without keepdims): the converter turns Keras' own into MEAN, which the Efinix rules refuse (TFLM
    runs it as a slow generic reduction)."""

    def __init__(self, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.keepdims = keepdims

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, input_shape[3]) if self.keepdims else (input_shape[0], input_shape[3])

    def call(self, x):
        h, w, c = x.shape[1:]
        pooled = keras.ops.average_pool(x, pool_size=(h, w), strides=(h, w), padding="valid")
        return pooled if self.keepdims else keras.ops.reshape(pooled, (-1, c))

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


def accelerator_friendly_copy(model):
    """A copy of a Functional/Sequential `model` with GlobalAveragePooling2D as GlobalAveragePoolAsPool,
    Flatten as StaticFlatten and Reshape as StaticReshape (same weights, same function); the names of
    the layers replaced. A model Keras cannot clone (subclassed, a wrapped SavedModel) comes back as is."""
    replaced: list[str] = []

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.GlobalAveragePooling2D) and config.get("data_format") in (None, "channels_last"):
            new = GlobalAveragePoolAsPool(keepdims=bool(config.get("keepdims")), name=layer.name)
        elif isinstance(layer, keras.layers.Flatten) and config.get("data_format") in (None, "channels_last"):
            new = StaticFlatten(name=layer.name)
        elif type(layer) is keras.layers.Reshape:
            new = StaticReshape(layer.target_shape, name=layer.name)
        else:
            return layer.__class__.from_config(config)
        replaced.append(layer.name)
        return new

    try:
        copy = keras.models.clone_model(model, clone_function=clone)
    except Exception:  # noqa: BLE001 - not clonable: nothing to replace safely
        return model, []
    if not replaced:
        return model, []
    copy.set_weights(model.get_weights())
    return copy, replaced
