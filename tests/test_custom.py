"""Your own data (`make custom`, common/custom.py): every argument and folder error first, in one line,
nothing built; and the proof on real data: three CIFAR-10 classes as a folder of PNGs, trained and
shipped as full int8, scored under TFLM on the folder's own held-out test files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import REPO, require_shared

CLASSES = {0: "airplane", 6: "frog", 9: "truck"}


def _custom(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "common.custom", "--build", str(tmp_path / "build"), *args],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=3000)


def _photos(root: Path, layout: dict[str, int]) -> Path:
    from PIL import Image

    for name, n in layout.items():
        (root / name).mkdir(parents=True)
        for k in range(n):
            Image.fromarray(np.full((20, 24, 3), 40 * k % 255, np.uint8)).save(root / name / f"{k}.png")
    return root


@pytest.mark.parametrize("args, message", [
    (["--kind", "nope", "--name", "x"], "KIND='nope' is not a model of the zoo"),
    (["--kind", "facemesh", "--name", "x"], "KIND=facemesh: training on your own data is not there yet"),
    (["--kind", "resnet_cifar", "--name", "yolo"], "NAME='yolo' is a zoo model's own build folder"),
    (["--kind", "resnet_cifar", "--name", "../x"], "--name '../x': use letters, digits"),
])
def test_bad_arguments_are_one_line_before_anything_runs(tmp_path, args, message):
    data = _photos(tmp_path / "photos", {"a": 2, "b": 2})
    run = _custom(tmp_path, *args, "--data", str(data))
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and message in run.stderr, run.stderr
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize("kind, layout, message", [
    ("resnet_cifar", {"cat": 3}, "at least 2 classes are needed"),
    ("resnet_cifar", {"cat": 3, "dog": 0}, "class folder(s) dog hold no images"),
    ("mobilenet_vww", {"person": 3}, "at least 2 classes are needed"),
    ("mobilenet_vww", {"person": 3, "non_person": 0}, "class folder(s) non_person hold no images"),
    ("mobilenet_vww", {"cat": 2, "dog": 2, "fox": 2}, "3 class folders (cat, dog, fox); this model tells two"),
    ("mobilenet_vww", {"images": 2}, "a YOLO folder (images/ + labels/) is the zoo's person layout"),
])
def test_a_bad_folder_is_refused_before_training(tmp_path, kind, layout, message):
    data = _photos(tmp_path / "photos", layout)
    run = _custom(tmp_path, "--kind", kind, "--name", "mine", "--data", str(data))
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and message in run.stderr, run.stderr
    assert not (tmp_path / "build").exists()


def test_the_steps_are_the_kinds_own_with_the_data_folder(tmp_path, monkeypatch):
    from common.custom import steps

    monkeypatch.delenv("EFINIX_TFLITE_BIN", raising=False)
    commands = steps("resnet_cifar", "mine", Path("d"), Path("b"), ["--epochs", "3"])
    assert [c[1] for c in commands] == ["models.resnet_cifar.train", "models.resnet_cifar.quantize",
                                        "models.resnet_cifar.evaluate", "common.deploy"]
    assert commands[0][-2:] == ["--epochs", "3"] and all("d" in c for c in commands[:3])
    assert commands[2][-2:] == ["--reference", "none"]
    monkeypatch.setenv("EFINIX_TFLITE_BIN", "/x/tflite")
    assert steps("resnet_cifar", "mine", Path("d"), Path("b"), [])[-1][1] == "common.deploy.efinix_generator"


def _cifar_folder(root: Path, classes: dict[int, str] = CLASSES) -> Path:
    """Every CIFAR-10 train image of `classes` in ../shared's TFDS (about 470 each) as PNG files, one
    folder per class."""
    from PIL import Image

    from common.data.tfds import tfds_builder

    for i, (x, y) in enumerate(tfds_builder("cifar10", None).as_dataset(
            split="train", as_supervised=True, shuffle_files=False).as_numpy_iterator()):
        if int(y) in classes:
            (root / classes[int(y)]).mkdir(parents=True, exist_ok=True)
            Image.fromarray(x).save(root / classes[int(y)] / f"{i:05d}.png")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("train_args, floor", [
    # int8 under TFLM on the 282 test files: fine-tuned 95.04% [91.84, 97.02] (seeds 1, 2: 96.81%, 97.87%;
    # with the backbone's batch norm trained 90.07-96.45% over four runs; Adam at 1e-3 instead of 3e-4 forgets
    # more of the backbone: 87.6% on another split); from scratch 89.36% [85.22, 92.45] and 96.45% [93.60, 98.06]
    (("--init", "pretrained", "--epochs", "10", "--learning-rate", "0.0003"), 0.90),
    (("--init", "scratch", "--epochs", "30"), 0.75),
], ids=["pretrained", "scratch"])
def test_three_cifar_classes_as_a_folder_to_int8(tmp_path, train_args, floor):
    require_shared("tensorflow_datasets", "cifar10")
    from models.resnet_cifar.data import folder_classes, folder_split

    data = _cifar_folder(tmp_path / "three_classes")
    env = {**os.environ, "EFINIX_TFLITE_BIN": ""}
    run = _custom(tmp_path, "--kind", "resnet_cifar", "--name", "three", "--data", str(data), "--", *train_args, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    out = tmp_path / "build" / "three"
    report = json.loads((out / "report.json").read_text())
    assert report["class_names"] == ["airplane", "frog", "truck"]
    assert report["classes"]["class_names"] == report["class_names"] and not report["references"]
    test_part = len(folder_split(folder_classes(data), "test"))  # 20% of each class
    assert report["n_eval"] == report["scores"]["int8"]["n"] == test_part > 250
    assert report["int8_runtime"].startswith("TensorFlow Lite Micro") and report["metric_int8"] >= floor, report["scores"]
    scored = set(report["data"]["scored"])
    calibrated = set(report["quantization"]["calibration"]["items"])
    assert scored and not scored & calibrated
    assert (out / "kit" / "three_model_data.cc").is_file() and (out / "confusion_int8.png").is_file()
    assert not (tmp_path / "build" / "resnet_cifar").exists()
    assert report["custom"]["kind"] == "resnet_cifar" and report["custom"]["class_names"] == report["class_names"]
    from common.pipeline.zoo_report import build_report

    table = build_report(tmp_path / "build", tmp_path / "REPORT.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| three |"))
    assert "your data" in row and "three_classes (3 classes)" in row

