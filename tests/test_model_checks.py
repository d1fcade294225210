"""Evaluate refuses model files that cannot stand where they are given: a float `.tflite` where the
int8 one is expected (it would fill metric_int8), a model whose input does not fit the data."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from common.evaluation.models import ModelFileError, require_input_shape, require_int8_tflite

MODELS = tuple(sorted(p.parent.name for p in (Path(__file__).resolve().parents[1] / "models").glob("*/recipe.py")))


@pytest.fixture(scope="module")
def float_tflite(tiny, tmp_path_factory):
    import tensorflow as tf

    model = tiny[0]
    path = tmp_path_factory.mktemp("f") / "float.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path


def test_require_int8_accepts_the_int8_file_and_refuses_the_float_one(tiny, float_tflite):
    assert require_int8_tflite(tiny[1]) == tiny[1]
    with pytest.raises(ModelFileError, match=r"float\.tflite is not a full-int8 \.tflite.*FLOAT32") as info:
        require_int8_tflite(float_tflite)
    assert "\n" not in str(info.value)


def test_require_int8_refuses_a_keras_file(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"zip")
    with pytest.raises(ModelFileError, match="not a .tflite"):
        require_int8_tflite(path)


def test_require_input_shape_names_both_shapes(tiny):
    assert require_input_shape(tiny[1], (8, 8, 3)) == (8, 8, 3)
    with pytest.raises(ModelFileError, match=r"takes input 8x8x3; the inputs are 32x32x3"):
        require_input_shape(tiny[1], (32, 32, 3))


def _eval_argv(model: str, tmp_path, tflite, float_model=None) -> list[str]:
    missing = str(tmp_path / "no_data_here")  # loading the data would fail with another error
    source = {"autoencoder": ["--tfds-dir", missing], "resnet_cifar": ["--tfds-dir", missing]}.get(
        model, ["--data-dir", missing])
    argv = ["--model", str(tflite), *source]
    if float_model:
        argv += ["--float-model", str(float_model), "--report", str(tmp_path / "report.json")]
    return argv


@pytest.mark.parametrize("model", MODELS)
def test_evaluate_refuses_a_float_tflite_as_the_int8_model(model, tiny, float_tflite, tmp_path, capsys):
    evaluate = importlib.import_module(f"models.{model}.evaluate")
    with pytest.raises(SystemExit) as info:
        evaluate.main(_eval_argv(model, tmp_path, float_tflite, float_model=float_tflite))
    message = capsys.readouterr().err.rstrip("\n")
    assert info.value.code == 2
    assert message.startswith("error: --model") and "not a full-int8" in message and "\n" not in message, message
    assert not (tmp_path / "report.json").exists()


@pytest.mark.parametrize("model", MODELS)
def test_evaluate_refuses_a_model_of_another_input_shape_before_loading_data(model, tiny, tmp_path, capsys):
    evaluate = importlib.import_module(f"models.{model}.evaluate")
    with pytest.raises(SystemExit) as info:
        evaluate.main(_eval_argv(model, tmp_path, tiny[1]))
    message = capsys.readouterr().err.rstrip("\n")
    assert info.value.code == 2
    assert message.startswith("error: ") and "takes input 8x8x3" in message and "\n" not in message, message
