"""`python -m common.convert`: the user's own model and data through the zoo's checks, report and kit."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "common.convert", *args], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=900)


def _one_error_line(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    return lines[0]


def _tiny_classifier(path: Path, activation: str = "relu", input_shape=(16, 16, 3), classes: int = 3) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation=activation)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    keras.Model(inputs, outputs).save(path)
    return path


def _image_folder(root: Path, classes=("cat", "dog", "emu"), per_class: int = 8) -> Path:
    """Class folders of PNG/JPEG images of several sizes; each class has its own colour, so a model can
    tell them apart."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for k in range(per_class):
            size = (12 + 4 * (k % 3), 20 + 2 * (k % 2))
            pixels = rng.integers(0, 60, (*size[::-1], 3)).astype(np.uint8)
            pixels[..., c] += 180
            Image.fromarray(pixels).save(root / name / f"{k}.{'png' if k % 2 else 'jpg'}")
    return root


def test_a_keras_classifier_and_an_image_folder_give_model_report_kit_and_report_row(tmp_path):
    model = _tiny_classifier(tmp_path / "mine.keras")
    data = _image_folder(tmp_path / "my images")
    build = tmp_path / "build"
    analyzer = REPO.parent / "shared" / "efinix_tinyml_generator" / "bin" / "tflite"
    run = _cli("--model", str(model), "--data", str(data), "--name", "mynet", "--build", str(build),
               env={"EFINIX_TFLITE_BIN": str(analyzer) if analyzer.is_file() else None})
    assert run.returncode == 0, run.stderr
    out = build / "mynet"
    report = json.loads((out / "report.json").read_text())
    quant = json.loads((out / "model.quant.json").read_text())
    assert report["class_names"] == ["cat", "dog", "emu"] and report["source"]["format"] == "keras"
    assert report["n_calibration"] + report["n_eval"] == 24 and report["all_int8"]
    scored = set(report["data"]["class_names"]) and report["n_eval"]
    assert scored and not set(quant["calibration"]["items"]) & set(_scored_ids(out, data, quant))
    comparison = report["int8_vs_float"]
    assert {"float", "int8", "int8_vs_float"} <= set(comparison["accuracy"])
    assert comparison["top1_agreement"]["n"] == report["n_eval"] and comparison["outputs"][0]["snr_db"] > 10
    assert {p.name for p in (out / "kit").iterdir()} >= {"mynet_model_data.cc", "profile.json", "golden_input.npy"}
    assert report["macs"] > 0 and report["tflm_arena_bytes"] > 0
    if analyzer.is_file():
        assert {p.name for p in (out / "efinix").iterdir()} == {
            "tinyml_core0_define.v", "mynet_model_data.cc", "mynet_model_data.h", "resources.json", "resources.md"}
    row = next(line for line in (build / "REPORT.md").read_text().splitlines() if line.startswith("| mynet"))
    assert "mine.keras" in row and "my images" in row


def _scored_ids(out: Path, data: Path, quant: dict) -> list[str]:
    from common.convert.data import list_files
    from common.data.items import relative_id

    files, _ = list_files(data)
    return [relative_id(f, data) for f in files if relative_id(f, data) not in quant["calibration"]["items"]]


def test_npy_features_without_labels_report_agreement_and_snr(tmp_path):
    model = _tiny_classifier(tmp_path / "feat.keras", input_shape=(8, 4, 1), classes=4)
    data = tmp_path / "features"
    data.mkdir()
    rng = np.random.default_rng(1)
    for k in range(12):
        np.save(data / f"clip{k}.npy", rng.uniform(0, 255, (8, 4)).astype(np.float32))
    run = _cli("--model", str(model), "--data", str(data), "--name", "feat", "--build", str(tmp_path / "b"),
               "--mean", "127.5", "--std", "127.5", env={"EFINIX_TFLITE_BIN": None})
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "b" / "feat" / "report.json").read_text())
    assert "accuracy" not in report["int8_vs_float"] and report["metric"].startswith("top-1 agreement")
    assert report["data"]["normalization"] == {"mean": [127.5], "std": [127.5]}


def test_a_model_the_target_cannot_run_is_refused_with_every_problem_and_nothing_written(tmp_path):
    model = _tiny_classifier(tmp_path / "gelu.keras", activation="gelu")
    data = _image_folder(tmp_path / "data", per_class=3)
    line = _one_error_line(_cli("--model", str(model), "--data", str(data), "--name", "g", "--build",
                                str(tmp_path / "b")))
    assert "GELU" in line and "ReLU or hard-swish" in line
    assert not (tmp_path / "b" / "g").exists() or not any((tmp_path / "b" / "g").iterdir())


@pytest.mark.parametrize("case", ["junk model", "empty data", "one class empty", "bad name", "bad mean"])
def test_bad_input_is_one_line_before_any_work(tmp_path, case):
    model = _tiny_classifier(tmp_path / "m.keras")
    data = _image_folder(tmp_path / "data", per_class=2)
    args = {"model": str(model), "data": str(data), "name": "n", "mean": "0"}
    if case == "junk model":
        (tmp_path / "junk.bin").write_bytes(os.urandom(300))
        args["model"] = str(tmp_path / "junk.bin")
    elif case == "empty data":
        (tmp_path / "empty").mkdir()
        args["data"] = str(tmp_path / "empty")
    elif case == "one class empty":
        (data / "zebra").mkdir()
    elif case == "bad name":
        args["name"] = "../up"
    else:
        args["mean"] = "1,2"  # two values for three channels
    line = _one_error_line(_cli(*(f"--{k}={v}" for k, v in args.items()), "--build", str(tmp_path / "b")))
    assert {"junk model": "accepted", "empty data": "no image", "one class empty": "zebra", "bad name": "--name",
            "bad mean": "--mean"}[case] in line
    assert not (tmp_path / "b" / "n" / "model.tflite").exists()


def test_int8_outputs_are_matched_to_the_float_outputs_by_shape_and_value():
    """The converter may list a multi-output model's outputs in another order (yolo-pico's two heads)."""
    from common.convert.pipeline import in_float_order

    rng = np.random.default_rng(0)
    small, big, other = rng.normal(size=(4, 3, 3, 18)), rng.normal(size=(4, 6, 6, 18)), rng.normal(size=(4, 3, 3, 18))
    ordered = in_float_order([small, big, other], [big + 0.01, other + 0.01, small + 0.01])
    assert all(np.allclose(o, f, atol=0.02) for o, f in zip(ordered, [small, big, other]))
