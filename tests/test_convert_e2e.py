"""The converter on the zoo's own models arriving as a user would bring them (issue 20's proof):
MLPerf ResNet-8 as `.h5`, as a SavedModel and as a PyTorch port exported to ONNX, scored on CIFAR-10
test images as a folder; the MLPerf KWS SavedModel on `.npy` MFCC features of the shared clips. Each
is compared with the zoo's own int8 file on the same held-out files, under TFLM."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import require_shared

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ZOO_SHARED_DIR", REPO.parent / "shared"))
pytestmark = pytest.mark.slow


def _convert(*args: str) -> dict:
    run = subprocess.run([sys.executable, "-m", "common.convert", *args], capture_output=True, text=True, cwd=REPO,
                         timeout=1800, env={k: v for k, v in os.environ.items() if k != "EFINIX_TFLITE_BIN"})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    build, name = Path(args[args.index("--build") + 1]), args[args.index("--name") + 1]
    return json.loads((build / name / "report.json").read_text())


def _held_out(report: dict, data: Path) -> list[Path]:
    from common.convert.data import list_files
    from common.data.items import relative_id

    quant = json.loads((Path(report["tflite"]).with_suffix(".quant.json")).read_text())
    calibrated = set(quant["calibration"]["items"])
    files, _ = list_files(data)
    return [f for f in files if relative_id(f, data) not in calibrated]


def _accuracy(tflite: Path, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from common.graph.runners import device_runner

    return np.argmax(device_runner(tflite).predict(x), 1) == y


def _ops(tflite: Path) -> list[str]:
    from common.graph.tflite import op_names

    return op_names(tflite)


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    """The CIFAR-10 test images as PNG class folders (class index = sorted names, as CIFAR's order is),
    and the zoo's own int8 ResNet-8 (the recipe's calibration on train images)."""
    require_shared("tensorflow_datasets", "cifar10")
    require_shared("pretrained", "mlcommons", "pretrainedResnet.h5")
    from PIL import Image

    from common.data.items import DataSource
    from common.pipeline.quantize import quantize
    from common.pipeline.recipe import load_recipe
    from models.resnet_cifar.data import load_items
    from models.resnet_cifar.train import load_pretrained

    root = tmp_path_factory.mktemp("cifar")
    recipe = load_recipe("resnet_cifar")
    source = DataSource.of(tfds_dir=os.environ.get("TFDS_DATA_DIR"))
    items = load_items(source, "test")
    data = root / "cifar10 test"
    for k, (x, y) in enumerate(zip(items.x, items.y)):
        folder = data / recipe.data.class_names[int(y)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x.astype(np.uint8)).save(folder / f"{k:05d}.png")
    keras_model = load_pretrained()
    keras_model.save(root / "pretrainedResnet.keras")
    zoo = quantize(recipe, root / "pretrainedResnet.keras", root / "zoo" / "model.tflite", source=source)
    return {"root": root, "data": data, "zoo": zoo, "keras": keras_model}


def _versus_zoo(report: dict, cifar: dict) -> dict:
    """Ours (converted) and the zoo's file on the converted model's held-out files, with McNemar."""
    from common.convert.data import read_sample
    from common.evaluation import stats

    files = _held_out(report, cifar["data"])
    x = np.stack([read_sample(f, (32, 32, 3)) for f in files])
    y = np.array([sorted(p.name for p in cifar["data"].iterdir()).index(f.parent.name) for f in files])
    ours, zoo = _accuracy(Path(report["tflite"]), x, y), _accuracy(cifar["zoo"], x, y)
    return {"n": len(y), "ours": float(ours.mean()), "zoo": float(zoo.mean()),
            "verdict": stats.mcnemar(ours, zoo).as_dict()}


def test_resnet8_as_h5_savedmodel_and_pytorch_onnx_matches_the_zoo(cifar, tmp_path):
    h5 = SHARED / "pretrained" / "mlcommons" / "pretrainedResnet.h5"
    saved = tmp_path / "resnet8 savedmodel"
    cifar["keras"].export(saved)
    sources = {"h5": h5, "savedmodel": saved}
    try:
        import torch

        from tests.test_onnx_import import resnet8_torch_from_keras

        onnx_path = tmp_path / "resnet8.onnx"
        torch.onnx.export(resnet8_torch_from_keras(cifar["keras"]).eval(), torch.zeros(1, 3, 32, 32), str(onnx_path),
                          dynamo=False, input_names=["x"], output_names=["y"])
        sources["onnx"] = onnx_path
    except ImportError:
        if os.environ.get("CI"):
            raise
    zoo_ops = _ops(cifar["zoo"])
    results = {}
    for fmt, path in sources.items():
        report = _convert("--model", str(path), "--data", str(cifar["data"]), "--name", f"resnet8_{fmt}",
                          "--build", str(tmp_path / "build"), "--calibration-n", "100")
        assert report["source"]["format"] == fmt
        ops = _ops(Path(report["tflite"]))
        assert "TRANSPOSE" not in ops and ops == zoo_ops, (fmt, ops)
        results[fmt] = {**_versus_zoo(report, cifar), "agreement": report["int8_vs_float"]["top1_agreement"]["value"]}
        assert abs(results[fmt]["ours"] - results[fmt]["zoo"]) <= 0.003 + 1e-9, results
    print(json.dumps(results))


def test_kws_savedmodel_on_npy_mfcc_features_matches_the_zoo(tmp_path):
    require_shared("pretrained", "mlcommons", "kws_ref_model", "saved_model.pb")
    require_shared("data", "speech_commands_v0.02_test_subset")
    from common.data.items import DataSource
    from common.pipeline.quantize import quantize
    from common.pipeline.recipe import load_recipe
    from models.dscnn_kws.data import load_items
    from models.dscnn_kws.train import load_pretrained

    recipe = load_recipe("dscnn_kws")
    source = DataSource.of(data_dir=SHARED / "data" / "speech_commands_v0.02_test_subset")
    items = load_items(source, "all")
    data = tmp_path / "mfcc"
    for k, (x, y, item) in enumerate(zip(items.x, items.y, items.ids)):
        folder = data / f"{int(y):02d}_{recipe.data.class_names[int(y)]}"  # sorted folder names = label order
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / f"{k:05d}.npy", x)
    report = _convert("--model", str(SHARED / "pretrained" / "mlcommons" / "kws_ref_model"), "--data", str(data),
                      "--name", "kws_savedmodel", "--build", str(tmp_path / "build"), "--calibration-n", "200")
    assert report["source"]["format"] == "savedmodel"
    keras_path = tmp_path / "dscnn.keras"
    load_pretrained().save(keras_path)
    zoo = quantize(recipe, keras_path, tmp_path / "zoo" / "model.tflite", source=source)
    zoo_calibrated = set(json.loads(zoo.with_suffix(".quant.json").read_text())["calibration"]["items"])
    files = [f for f in _held_out(report, data) if items.ids[int(f.stem)] not in zoo_calibrated]
    x = np.stack([np.load(f) for f in files])
    y = np.array([int(f.parent.name[:2]) for f in files])
    ours, theirs = _accuracy(Path(report["tflite"]), x, y), _accuracy(zoo, x, y)
    from common.evaluation import stats

    print(json.dumps({"n": len(y), "ours": float(ours.mean()), "zoo": float(theirs.mean()),
                      "verdict": stats.mcnemar(ours, theirs).as_dict()}))
    assert stats.mcnemar(ours, theirs).verdict == "within noise"
