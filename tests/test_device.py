"""Device-faithful int8: TensorFlow Lite Micro runner, arena, Efinix rules enforced at quantization."""
from __future__ import annotations

import numpy as np
import pytest

from common.graph.efinix import EfinixCompatibilityError, check_efinix, efinix_violations
from common.graph.quantize import convert_int8, quantize_int8
from common.data.calibration import representative_dataset
from common.graph.tflite import read_graph
from common.graph.runners import Runner, TFLMRunner, tflm_arena_bytes, tflm_recorded_arena_bytes
from tests.helpers import require_shared


def _calibration(shape, n=16):
    return np.random.default_rng(0).uniform(-1, 1, (n, *shape)).astype(np.float32)


def _write(tmp_path, name: str, flatbuffer: bytes):
    path = tmp_path / name
    path.write_bytes(flatbuffer)
    return path


def _dense_model(units=6):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((12,))
    x = keras.layers.Dense(16, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(units)(x))


def test_tflm_runner_has_the_litert_interface_and_numbers(tiny):
    _, tflite, calib = tiny
    tflm, ref = TFLMRunner(tflite), Runner(tflite)
    assert [d["quantization"] for d in tflm.inputs] == [d["quantization"] for d in ref.inputs]
    assert [tuple(d["shape"]) for d in tflm.outputs] == [tuple(d["shape"]) for d in ref.outputs]
    q = ref.quantize(calib[:6], ref.inputs[0])
    assert np.array_equal(tflm.run_quantized([q])[0], ref.run_quantized([q])[0])
    assert np.array_equal(tflm.predict(calib[:6]), ref.predict(calib[:6]))


def test_reference_kernels_do_not_depend_on_threads(tiny):
    """Reference kernels (= TFLM numerics) give the same int8 outputs whatever the thread count."""
    _, tflite, calib = tiny
    one, two = Runner(tflite, num_threads=1), Runner(tflite, num_threads=2)
    q = one.quantize(calib, one.inputs[0])
    assert np.array_equal(one.run_quantized([q])[0], two.run_quantized([q])[0])
    with pytest.raises(ValueError, match="kernels"):
        Runner(tflite, kernels="fast")


@pytest.mark.parametrize("name", ["resnet_image_classify", "ds_cnn_kws", "yolo_person_detect"])
def test_tflm_equals_litert_reference_on_efinix_files(name):
    """Proof that LiteRT's BUILTIN_REF kernels compute what TFLM computes on real conv models,
    for any LiteRT thread count (the optimized kernels do not: they are only a secondary number)."""
    path = require_shared("pretrained", "efinix", f"{name}.tflite")
    tflm = TFLMRunner(path)
    rng = np.random.default_rng(1)
    for threads in (1, 2):
        ref = Runner(path, num_threads=threads)
        for _ in range(2):
            q = [rng.integers(-128, 128, (1, *d["shape"][1:])).astype(np.int8) for d in tflm.inputs]
            for a, b in zip(tflm.run_quantized(q), ref.run_quantized(q)):
                assert np.array_equal(a, b)


def test_tflm_arena_is_the_smallest_that_allocates(tiny):
    _, tflite, _ = tiny
    arena = tflm_arena_bytes(tflite)
    assert arena > 8 * 8 * 4  # at least one activation
    x = [np.zeros((1, 8, 8, 3), np.int8)]
    TFLMRunner(tflite, arena_size=arena).run_quantized(x)
    with pytest.raises(ValueError, match="does not load in TensorFlow Lite Micro"):
        TFLMRunner(tflite, arena_size=arena - 1)


def test_arena_covers_what_allocate_tensors_needs_beyond_the_recorded_total():
    """The recording allocator's total (3,984 B for the autoencoder) is less than AllocateTensors
    needs while planning; the reported arena is the smallest that really allocates."""
    path = require_shared("pretrained", "efinix", "deep_autoencoder_anomaly_detection.tflite")
    recorded, arena = tflm_recorded_arena_bytes(path), tflm_arena_bytes(path)
    assert recorded < arena
    TFLMRunner(path, arena_size=arena)
    with pytest.raises(ValueError):
        TFLMRunner(path, arena_size=recorded)


# ---- Efinix rules: one tiny model per rule --------------------------------------------------


def test_rule_fully_connected_per_tensor(tmp_path):
    model = _dense_model()
    calib = representative_dataset(_calibration((12,)))
    per_channel = _write(tmp_path, "pc.tflite", convert_int8(model, calib, per_channel_dense=True))
    with pytest.raises(EfinixCompatibilityError, match=r"FULLY_CONNECTED #\d: weights have (16|6) scales .*per tensor"):
        check_efinix(per_channel)
    # What the zoo writes passes: one scale per FULLY_CONNECTED.
    path = quantize_int8(model, calib, tmp_path / "ok.tflite")
    graph = read_graph(path).subgraphs[0]
    fc_scales = [len(graph.tensors[op.inputs[1]].quantization.scale) for op in graph.operators]
    assert fc_scales == [1, 1] and efinix_violations(path) == []


def test_rule_int8_input_and_output(tmp_path):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(_dense_model())
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset(_calibration((12,)))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    path = _write(tmp_path, "float_io.tflite", converter.convert())  # float32 in/out around int8
    found = efinix_violations(path)
    assert "input 0: not int8 (rule: int8 input and output)" in found
    assert "output 0: not int8 (rule: int8 input and output)" in found


def test_rule_supported_ops_only(tmp_path):
    import keras

    inputs = keras.Input((12,))
    model = keras.Model(inputs, keras.layers.Activation("gelu")(keras.layers.Dense(8)(inputs)))
    with pytest.raises(EfinixCompatibilityError, match=r"GELU #\d: not an op the Efinix analyzer's TFLM registers"):
        quantize_int8(model, representative_dataset(_calibration((12,))), tmp_path / "gelu.tflite")
    assert not list(tmp_path.iterdir())  # nothing written


def test_rule_no_mean_where_average_pool_does(tmp_path):
    import keras

    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3)(inputs)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    with pytest.raises(EfinixCompatibilityError, match=r"MEAN #\d: mean over height and width .*AVERAGE_POOL_2D"):
        quantize_int8(model, representative_dataset(_calibration((6, 6, 3))), tmp_path / "gap.tflite")
    assert not list(tmp_path.iterdir())
    # The same model with AveragePooling2D over the whole map passes.
    x = keras.layers.AveragePooling2D(4)(x)
    ok = keras.Model(inputs, keras.layers.Reshape((4,))(x))
    assert efinix_violations(quantize_int8(ok, representative_dataset(_calibration((6, 6, 3))), tmp_path / "ok.tflite")) == []


def test_rule_violation_is_one_error_line(tmp_path, capsys):
    from common.cli import run

    def main(argv):
        check_efinix(_write(tmp_path, "pc.tflite", convert_int8(
            _dense_model(), representative_dataset(_calibration((12,))), per_channel_dense=True)))

    with pytest.raises(SystemExit) as exit_info:
        run(main, [])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and "FULLY_CONNECTED" in err and "per tensor" in err


def test_shipped_efinix_reference_files_pass_the_rules():
    for name in ("resnet_image_classify", "ds_cnn_kws", "yolo_person_detect", "mediapipe_face_landmark",
                 "deep_autoencoder_anomaly_detection"):
        path = require_shared("pretrained", "efinix", f"{name}.tflite")
        assert efinix_violations(path) == [], name


# ---- calibration never scored -------------------------------------------------------------------


def test_calibration_subset_is_seeded_and_leaves_data_to_score():
    from common.data.calibration import calibration_subset

    names = [f"img_{i:03d}.jpg" for i in range(10)]
    half = calibration_subset(names, 0.5, seed=0)
    assert len(half) == 5 and half == calibration_subset(list(reversed(names)), 0.5, seed=0)
    assert half != calibration_subset(names, 0.5, seed=1)
    assert len(calibration_subset(["a", "b"], 0.9)) == 1  # one file is always left to score
    assert calibration_subset(["only"], 0.5) == ["only"]
