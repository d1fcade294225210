"""Quantize CLIs check their arguments before the expensive part and write a consistent pair."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MODELS = tuple(sorted(p.parent.name for p in (Path(__file__).resolve().parents[1] / "models").glob("*/recipe.py")))


def _quantize(repo, model, *args):
    return subprocess.run([sys.executable, "-m", f"models.{model}.quantize", *args], cwd=repo,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("n", ["0", "-5", "many"])
def test_bad_calibration_n_is_refused_before_loading(repo, tmp_path, model, n):
    # The model file does not even exist: the argument error must come first.
    run = _quantize(repo, model, "--model", str(tmp_path / "missing.keras"), "--out", str(tmp_path / "m.tflite"),
                    "--calibration-n", n)
    assert run.returncode == 2
    assert run.stderr.startswith("error: argument --calibration-n") and run.stderr.count("\n") == 1
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_read_only_out_is_refused_first_as_non_root(repo, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    run = _quantize(repo, "resnet_cifar", "--model", str(tmp_path / "missing.keras"), "--out", str(folder / "m.tflite"))
    assert run.returncode == 2 and "not a writable directory" in run.stderr


def test_out_that_is_a_directory_or_under_a_file_is_refused_first(repo, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out in (tmp_path, a_file / "m.tflite"):
        run = _quantize(repo, "resnet_cifar", "--model", str(tmp_path / "missing.keras"), "--out", str(out))
        assert run.returncode == 2 and run.stderr.startswith("error: argument --out"), run.stderr


def test_missing_model_is_one_error_line(repo, tmp_path):
    run = _quantize(repo, "resnet_cifar", "--model", str(tmp_path / "missing.keras"), "--out", str(tmp_path / "m.tflite"))
    assert run.returncode == 2 and run.stderr.startswith("error: ") and "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1


def test_pair_is_consistent_and_leaves_no_hidden_files(tiny, tmp_path):
    from common.graph.quantize import metadata_path, quantize_int8
    from common.data.calibration import representative_dataset
    from common.graph.quantize import read_quantization_metadata

    model, _, calib = tiny
    out = tmp_path / "q" / "model.tflite"
    quantize_int8(model, representative_dataset(calib[:8]), out, metadata={"calibration_n": 8})
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.quant.json", "model.tflite"]
    assert read_quantization_metadata(out)["calibration_n"] == 8
    # A sidecar left beside another file (a kill between the two renames) is not believed.
    sidecar = json.loads(metadata_path(out).read_text())
    out.write_bytes(out.read_bytes() + b"\0")
    assert read_quantization_metadata(out) == {}
    assert sidecar["tflite_sha256"]
