"""Named passes (common/graph/passes.py): each does its edit and its check says what it preserves; a
check that does not hold stops the build."""
from __future__ import annotations

import numpy as np
import pytest

from common.data.calibration import representative_dataset
from common.errors import PassCheckError
from common.graph.passes import CLAMP_MIXED_PRELU, COMPACT, PASSES, UNION_SAME_SCALE_RANGES, PassContext, get_pass
from common.graph.quantize import convert_int8, quantize_int8
from common.graph.tflite import op_names, read_graph


def test_compact_keeps_the_int8_function_bit_for_bit(tiny):
    model, _, calib = tiny
    converted = convert_int8(model, representative_dataset(calib[:8]))
    ctx = PassContext(calibration=calib)
    compacted, info = COMPACT.apply(converted, ctx)
    assert info["bytes_after"] < info["bytes_before"]
    assert COMPACT.check(converted, compacted, ctx, info) == {"graph_equal_but_names": True, "tflm_bit_exact_samples": 2}
    names = {t.name for t in read_graph(compacted).subgraphs[0].tensors}
    assert {"input_0", "output_0"} <= {n.decode() if isinstance(n, bytes) else n for n in names}


def test_compact_check_refuses_a_changed_constant(tiny):
    from ai_edge_litert.tools import flatbuffer_utils

    model, _, calib = tiny
    converted = convert_int8(model, representative_dataset(calib[:8]))
    compacted, info = COMPACT.apply(converted, PassContext())
    broken = flatbuffer_utils.read_model_from_bytearray(bytearray(compacted))
    buffer = next(b for b in broken.buffers if b.data is not None and len(b.data) > 8)
    buffer.data = np.asarray(buffer.data)[::-1].copy()
    with pytest.raises(PassCheckError, match="compact changed"):
        COMPACT.check(converted, bytes(flatbuffer_utils.convert_object_to_bytearray(broken)), PassContext(), info)


def _prelu_model(mixed_alpha, max_alpha):
    import keras

    from common.graph.layers import AcceleratorPReLU

    inputs = keras.Input((4, 4, 3))
    conv = keras.layers.Conv2D(3, 1, name="conv")
    mixed = AcceleratorPReLU((1, 1, 3), form="mixed", name="mixed")
    plain = AcceleratorPReLU((1, 1, 3), form="max", name="plain")
    model = keras.Model(inputs, plain(mixed(conv(inputs))))
    mixed.set_weights([mixed_alpha])
    plain.set_weights([max_alpha])
    return model, conv


def test_clamp_mixed_prelu_converts_to_mul_maximum(tmp_path):
    """Mixed layers become max(x, min(a, 1) * x); the other layers and weights stay as they were."""
    mixed_alpha = np.array([[[-0.5, 0.3, 1.25]]], np.float32)
    max_alpha = np.array([[[0.1, 0.2, 0.9]]], np.float32)
    model, conv = _prelu_model(mixed_alpha, max_alpha)

    ctx = PassContext()
    lean, info = CLAMP_MIXED_PRELU.apply(model, ctx)
    assert info["clamped"] == [{"layer": "mixed", "channels": [2], "alphas": [1.25]}]
    assert CLAMP_MIXED_PRELU.check(model, lean, ctx, info) == {"layers_clamped": 1, "channels_clamped": 1}
    assert lean.get_layer("mixed").form == "max" and lean.get_layer("plain").form == "max"
    np.testing.assert_array_equal(lean.get_layer("conv").get_weights()[0], conv.get_weights()[0])
    x = np.random.default_rng(0).normal(0, 3, (8, 4, 4, 3)).astype(np.float32)
    h = np.asarray(conv(x))
    h = np.where(h > 0, h, np.minimum(mixed_alpha, 1.0) * h)
    np.testing.assert_allclose(np.asarray(lean(x)), np.where(h > 0, h, max_alpha * h), atol=1e-5)
    assert not np.allclose(np.asarray(model(x)), np.asarray(lean(x)), atol=1e-3)  # the original is untouched

    ops = op_names(quantize_int8(lean, representative_dataset(x), tmp_path / "lean.tflite"))
    assert sorted(ops) == ["CONV_2D", "MAXIMUM", "MAXIMUM", "MUL", "MUL"]
    exact_ops = op_names(quantize_int8(model, representative_dataset(x), tmp_path / "exact.tflite"))
    assert "MINIMUM" in exact_ops and "ADD" in exact_ops

    lean.get_layer("conv").set_weights([w * 2 for w in lean.get_layer("conv").get_weights()])
    with pytest.raises(PassCheckError, match="conv: weights changed"):
        CLAMP_MIXED_PRELU.check(model, lean, ctx, info)


def test_union_same_scale_ranges_widens_maximum_groups(tmp_path):
    """max(x, a * x) after an ADD: x keeps its calibrated range (not the PReLU output's)."""
    import keras

    from common.graph.layers import AcceleratorPReLU

    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Add()([inputs, keras.layers.Conv2D(2, 1)(inputs)])
    prelu = AcceleratorPReLU((1, 1, 2), form="max")
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(prelu(x)))
    prelu.set_weights([np.array([[[0.1, 0.2]]], np.float32)])
    calib = np.random.default_rng(0).normal(0, 3, (32, 4, 4, 2)).astype(np.float32)

    def add_output_low(path) -> float:
        graph = read_graph(path).subgraphs[0]
        add = graph.operators[op_names(path).index("ADD")]
        q = graph.tensors[add.outputs[0]].quantization
        return float(q.scale[0] * (-128 - q.zeroPoint[0]))

    plain = quantize_int8(model, representative_dataset(calib), tmp_path / "plain.tflite")
    record: dict = {}
    with UNION_SAME_SCALE_RANGES.apply(PassContext(), record):
        union = quantize_int8(model, representative_dataset(calib), tmp_path / "union.tflite")
    assert record == {"groups": 1, "tensors": 3}  # its check ran on the calibrated ranges
    assert add_output_low(union) < add_output_low(plain)  # the residual sum is no longer clipped


def test_passes_by_name_and_by_reference():
    assert get_pass("compact") is COMPACT and set(PASSES) == {"compact", "union_same_scale_ranges", "clamp_mixed_prelu",
                                                                  "accelerator_friendly_layers"}
    assert get_pass("models.yolo.ranges:ADOPT_ACTIVATION_RANGES").name == "adopt_activation_ranges"
    with pytest.raises(ValueError, match="unknown pass 'nope'"):
        get_pass("nope")


def test_accelerator_friendly_layers_turn_mean_and_dynamic_shapes_into_pool_and_one_reshape():
    """GlobalAveragePooling2D converts to MEAN (refused by the Efinix rules) and Flatten to SHAPE/
    STRIDED_SLICE/PACK; the pass's copy converts to AVERAGE_POOL_2D and RESHAPE with the same outputs."""
    import keras

    from common.data.calibration import representative_dataset
    from common.graph.passes import ACCELERATOR_FRIENDLY_LAYERS, PassContext
    from common.graph.quantize import convert_int8
    from common.graph.tflite import op_names

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    flat = keras.layers.Dense(2)(keras.layers.Flatten()(x))
    model = keras.Model(inputs, [pooled, flat])
    calib = np.random.default_rng(0).uniform(size=(16, 8, 8, 3)).astype(np.float32)
    ctx = PassContext(calibration=calib)
    copy, info = ACCELERATOR_FRIENDLY_LAYERS.apply(model, ctx)
    check = ACCELERATOR_FRIENDLY_LAYERS.check(model, copy, ctx, info)
    assert check["replaced"] == 2 and check["max_abs_diff"] < 1e-6
    before = set(op_names(convert_int8(model, representative_dataset(calib))))
    after = set(op_names(convert_int8(copy, representative_dataset(calib))))
    assert "MEAN" in before and "MEAN" not in after and "AVERAGE_POOL_2D" in after
    assert not after & {"SHAPE", "STRIDED_SLICE", "PACK"}
