"""models/resnet_cifar: architecture, training/resume, and the end-to-end build on ../shared data."""
from __future__ import annotations

import csv
import hashlib
import os
import subprocess

import numpy as np
import pytest

from tests.helpers import make_and_check, require_shared


def test_resnet8_has_mlperf_parameter_count():
    from models.resnet_cifar.model import build_model

    model = build_model()
    assert model.count_params() == 78_666
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)


def test_pretrained_import_reproduces_reference_h5():
    require_shared("pretrained", "mlcommons", "pretrainedResnet.h5")
    import keras

    from common.pipeline.references import fetch_file
    from models.resnet_cifar.recipe import RECIPE
    from models.resnet_cifar.train import load_pretrained

    ours = load_pretrained()
    reference = keras.models.load_model(fetch_file(RECIPE, "mlperf_resnet8"), compile=False)
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), reference.predict(x, verbose=0), atol=1e-6)


def _config(tmp_path, **overrides):
    from models.resnet_cifar.train import TrainConfig

    base = dict(init="scratch", epochs=1, batch_size=32, train_split="train[:256]", val_split="train[256:320]",
                workdir=str(tmp_path / "work"), out=str(tmp_path / "model.keras"), seed=1)
    base.update(overrides)
    return TrainConfig(**base)


def _loss(model, split):
    import keras

    from models.resnet_cifar.data import load_arrays

    x, y = load_arrays(split)
    return float(keras.losses.sparse_categorical_crossentropy(y, model.predict(x, verbose=0)).numpy().mean())


def test_one_short_epoch_lowers_the_loss(tmp_path):
    require_shared("tensorflow_datasets", "cifar10")
    from common import env
    from models.resnet_cifar.model import build_model
    from models.resnet_cifar.train import train

    config = _config(tmp_path)
    env.set_seed(config.seed)
    before = _loss(build_model(), config.train_split)
    after = _loss(train(config), config.train_split)
    assert after < before
    assert (tmp_path / "model.keras").is_file()
    assert (tmp_path / "work" / "checkpoints" / "epoch_001.keras").is_file()
    assert any((tmp_path / "work" / "logs").rglob("events.out.tfevents.*"))


class _Interrupt(Exception):
    pass


def test_interrupted_training_resumes_from_saved_epoch(tmp_path):
    require_shared("tensorflow_datasets", "cifar10")
    import keras

    from models.resnet_cifar.train import train

    class StopAfterSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise _Interrupt()

    config = _config(tmp_path, epochs=3, train_split="train[:64]", val_split="train[64:96]")
    with pytest.raises(_Interrupt):
        train(config, extra_callbacks=[StopAfterSecondEpoch()])
    assert not (tmp_path / "model.keras").exists()  # nothing half-written
    assert (tmp_path / "work" / "backup").is_dir()

    train(config)
    with open(tmp_path / "work" / "history.csv") as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs == [0, 1, 2]  # the resumed run trained epoch 2 only
    assert (tmp_path / "model.keras").is_file()
    assert not (tmp_path / "work" / "backup").exists()


@pytest.mark.slow
def test_efinix_reference_scores_740_of_846():
    require_shared("tensorflow_datasets", "cifar10")
    from common.pipeline.evaluate import evaluate
    from common.pipeline.references import fetch_file
    from models.resnet_cifar.recipe import RECIPE

    ev = evaluate(RECIPE, fetch_file(RECIPE, "efinix_resnet"))  # under TensorFlow Lite Micro (LiteRT x86: 740)
    assert ev.scores["int8"].n == 846 and ev.scores["int8"].correct == 744


def _make(repo, build_dir):
    env = {**os.environ, "CI": "1"}
    return subprocess.run(["make", f"BUILD={build_dir}", "resnet_cifar.cc"], cwd=repo, env=env,
                          capture_output=True, text=True)


@pytest.mark.slow
def test_make_resnet_cifar_end_to_end(repo, tmp_path):
    require_shared("tensorflow_datasets", "cifar10")
    require_shared("pretrained", "mlcommons", "pretrainedResnet.h5")
    from common.graph.tflite import tensor_types
    from common.graph.runners import Runner

    report = make_and_check(repo, tmp_path / "a", "resnet_cifar", {**os.environ, "CI": "1"})
    tflite = tmp_path / "a" / "resnet_cifar" / "model.tflite"

    assert set(tensor_types(tflite)) <= {"INT8", "INT32"} and report["all_int8"]
    runner = Runner(tflite)
    assert runner.inputs[0]["dtype"] == np.int8 and runner.outputs[0]["dtype"] == np.int8
    assert report["size_bytes"] == tflite.stat().st_size <= 98_496
    assert report["n_eval"] == 846
    assert report["metric_int8"] >= 744 / 846  # TFLM numerics: at least the Efinix/MLPerf reference file
    assert report["drop"] <= 0.005
    # the reference on the same 846 images, each score with its interval, and the paired verdict
    reference = report["references"]["efinix_resnet"]
    assert reference["score"]["correct"] == 744 and reference["score"]["n"] == 846
    assert reference["score"]["low"] < 744 / 846 < reference["score"]["high"]
    assert reference["ours_vs_it"]["test"].startswith("McNemar") and reference["ours_vs_it"]["verdict"] == "within noise"
    assert report["scores"]["int8"]["correct"] == round(report["metric_int8"] * 846)
    for plot in ("scores.png", "confusion_int8.png", "confusion_efinix_resnet.png"):
        assert (tmp_path / "a" / "resnet_cifar" / plot).stat().st_size > 0

    # Make knows what each step loaded: a change of the Efinix rules re-runs quantize onward, not the data step.
    what_if = subprocess.run(["make", "-n", "-W", "common/graph/efinix.py", f"BUILD={tmp_path / 'a'}",
                              "resnet_cifar.tflite"], cwd=repo, capture_output=True, text=True, check=True).stdout
    assert "models.resnet_cifar.quantize" in what_if and "models.resnet_cifar.evaluate" in what_if
    assert "models.resnet_cifar.data" not in what_if and "models.resnet_cifar.train" not in what_if

    # Re-running is a no-op: every target is up to date.
    up_to_date = subprocess.run(["make", "-q", f"BUILD={tmp_path / 'a'}", f"{tmp_path / 'a'}/resnet_cifar/report.json"],
                                cwd=repo)
    assert up_to_date.returncode == 0

    # Rebuilding from the same inputs gives a byte-identical file.
    second = _make(repo, tmp_path / "b")
    assert second.returncode == 0, second.stdout + second.stderr
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(tmp_path / "b" / "resnet_cifar" / "model.tflite") == digest(tflite)
