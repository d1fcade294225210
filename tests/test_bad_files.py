"""A decompression-bomb image and a corrupt Keras model file are refused (or skipped) by name, the
way an unreadable image is: one `error:` line at the CLI, never a traceback or a misleading message."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from common.data.images import ImageError, read_image
from common.errors import ModelFileError
from tests.helpers import REPO

BOMB_PIXELS = 15000 * 15000  # over twice PIL's default limit: PIL raises DecompressionBombError


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    from PIL import Image

    path = tmp_path_factory.mktemp("bomb") / "huge.png"
    Image.new("L", (15000, 15000)).save(path)  # one colour: a few hundred kB on disk
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ZOO_DEBUG"}
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300, env=env)


# ---- decompression bombs ---------------------------------------------------------------------

def test_decompression_bomb_is_an_image_error_naming_file_and_size(bomb):
    with pytest.raises(ImageError) as info:
        read_image(bomb, "L")
    message = str(info.value)
    assert message.startswith(f"{bomb}: ") and "\n" not in message
    assert f"{BOMB_PIXELS} pixels" in message and "PIL's limit" in message


def test_image_between_pil_limits_is_refused_without_a_warning(tmp_path, monkeypatch):
    from PIL import Image

    path = tmp_path / "big.png"
    Image.new("RGB", (40, 40)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1600 pixels: PIL would only warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageError, match=r"big\.png: .*1600 pixels.*PIL's limit of 1000"):
            read_image(path)


def test_mobilenet_vww_skips_and_lists_a_bomb(bomb, tmp_path):
    from PIL import Image

    from models.mobilenet_vww.data import load_folder

    for name in ("person", "non_person"):
        (tmp_path / name).mkdir()
        Image.new("L", (60, 40), 100).save(tmp_path / name / "ok.png")
    shutil.copy(bomb, tmp_path / "person" / "huge.png")
    with pytest.warns(UserWarning, match="huge.png"):
        folder = load_folder(tmp_path)
    assert len(folder.y) == 2 and [Path(f).name for f in folder.skipped] == ["huge.png"]


def test_mobilenet_vww_data_step_lists_a_bomb_as_skipped(bomb, tmp_path):
    from PIL import Image

    data = tmp_path / "data"
    for name in ("person", "non_person"):
        (data / name).mkdir(parents=True)
        Image.new("L", (60, 40), 100).save(data / name / "ok.png")
    shutil.copy(bomb, data / "non_person" / "huge.png")
    out = tmp_path / "summary.json"
    run = _cli("models.mobilenet_vww.data", "--data-dir", str(data), "--out", str(out))
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-2000:]
    summary = json.loads(out.read_text())
    assert summary["n_images"] == 2 and [Path(f).name for f in summary["skipped_unreadable"]] == ["huge.png"]


def test_yolo_image_cli_refuses_a_bomb_in_one_line(bomb, tmp_path):
    run = _cli("models.yolo.evaluate", "--model", str(tmp_path / "unused.tflite"), "--image", str(bomb),
               "--out-png", str(tmp_path / "boxes.png"))
    assert run.returncode == 2, run.stderr[-2000:]
    assert run.stderr.startswith(f"error: {bomb}: ") and run.stderr.count("\n") == 1, run.stderr[-2000:]
    assert f"{BOMB_PIXELS} pixels" in run.stderr


# ---- corrupt Keras model files ---------------------------------------------------------------

@pytest.fixture(scope="module")
def keras_files(tmp_path_factory) -> Path:
    """A tiny model saved as `ok.keras` and `ok.h5`."""
    import keras

    folder = tmp_path_factory.mktemp("keras")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.save(folder / "ok.keras")
    model.save(folder / "ok.h5")
    return folder


def _corrupt(folder: Path, name: str, data: bytes) -> Path:
    path = folder / f"bad_{name}"
    path.write_bytes(data)
    return path


def _rezipped(source: Path, drop: str = "", replace: dict[str, bytes] | None = None) -> bytes:
    """The members of the `.keras` zip `source`, less `drop`, some replaced, as a new zip's bytes."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(buffer, "w") as dst:
        for name in src.namelist():
            if name != drop:
                dst.writestr(name, (replace or {}).get(name, src.read(name)))
    return buffer.getvalue()


def _bad_keras(folder: Path, kind: str) -> Path:
    data = (folder / "ok.keras").read_bytes()
    return _corrupt(folder, f"{kind}.keras", {
        "random": np.random.default_rng(0).bytes(4000),
        "truncated": data[: len(data) // 2],
        "no_weights": _rezipped(folder / "ok.keras", drop="model.weights.h5"),
        "no_config": _rezipped(folder / "ok.keras", drop="config.json"),
        "bad_weights": _rezipped(folder / "ok.keras", replace={"model.weights.h5": b"not hdf5" * 8}),
    }[kind])


@pytest.mark.parametrize("kind", ["random", "truncated", "no_weights", "no_config", "bad_weights"])
def test_corrupt_keras_file_is_a_model_file_error(keras_files, kind):
    from common.graph.keras_io import load_model

    path = _bad_keras(keras_files, kind)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(f"{path} is not a readable .keras model (corrupt or truncated: "), message
    assert "File not found" not in message and "\n" not in message


@pytest.mark.parametrize("kind", ["random", "truncated"])
def test_corrupt_h5_file_is_a_model_file_error(keras_files, kind):
    from common.graph.keras_io import load_model

    data = (keras_files / "ok.h5").read_bytes()
    path = _corrupt(keras_files, f"{kind}.h5", np.random.default_rng(0).bytes(4000) if kind == "random"
                    else data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"is not a readable \.h5 model \(corrupt or truncated: "):
        load_model(path)


def test_good_keras_and_h5_files_still_load(keras_files):
    from common.graph.keras_io import load_model

    x = np.ones((1, 4), np.float32)
    a, b = load_model(keras_files / "ok.keras"), load_model(keras_files / "ok.h5")
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), rtol=1e-6)


def test_missing_keras_file_is_file_not_found(tmp_path):
    from common.graph.keras_io import load_model

    with pytest.raises(FileNotFoundError, match="missing.keras"):
        load_model(tmp_path / "missing.keras")


def test_quantize_cli_names_a_corrupt_keras_file_in_one_line(keras_files, tmp_path, capsys):
    from common import cli
    from models.resnet_cifar import quantize

    path = _bad_keras(keras_files, "random")
    with pytest.raises(SystemExit) as info:
        cli.run(quantize.main, ["--model", str(path), "--out", str(tmp_path / "m.tflite")])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: {path} is not a readable .keras model (corrupt or truncated: "), err
    assert not (tmp_path / "m.tflite").exists()
