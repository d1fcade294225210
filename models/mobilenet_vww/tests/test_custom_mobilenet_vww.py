"""The person/no-person kind of `make custom` (common/custom.py) on two classes of your own, end to end
(in its own file so that pytest-xdist runs it beside tests/test_custom.py's proofs)."""
from __future__ import annotations

import json
import os

import pytest

from tests.helpers import require_shared
from tests.test_custom import _cifar_folder, _custom


@pytest.mark.slow
def test_two_classes_of_your_own_to_the_person_detector(tmp_path):
    """The person/no-person kind on any two classes: CIFAR-10 airplanes and trucks (RGB 32x32 PNGs, read
    as the model's 96x96 gray), fine-tuned from MLPerf's VWW weights, scored under TFLM on the folder's
    test part. When measured (12 epochs): int8 79.37% [73.04, 84.52] on 189 files, float 79.89% (20
    epochs: int8 83.60% [77.66, 88.20])."""
    require_shared("tensorflow_datasets", "cifar10")
    require_shared("pretrained", "mlcommons", "vww_96.h5")
    data = _cifar_folder(tmp_path / "planes_trucks", {0: "airplane", 9: "truck"})
    env = {**os.environ, "EFINIX_TFLITE_BIN": ""}
    run = _custom(tmp_path, "--kind", "mobilenet_vww", "--name", "planes", "--data", str(data), "--",
                  "--init", "pretrained", "--epochs", "12", env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads((tmp_path / "build" / "planes" / "report.json").read_text())
    assert report["class_names"] == ["airplane", "truck"] and not report["references"]
    assert report["n_eval"] == 189 and report["inputs"][0]["shape"] == [1, 96, 96, 1]
    assert report["metric_int8"] >= 0.70, report["scores"]  # chance is 0.5; measured 79.37%
    assert not set(report["data"]["scored"]) & set(report["quantization"]["calibration"]["items"])
    assert report["custom"]["class_names"] == ["airplane", "truck"]
