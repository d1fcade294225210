"""Test set-up: point TFDS and the weights registry at ../shared when it is there."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ZOO_SHARED_DIR", REPO.parent / "shared")).resolve()

# Must happen before TensorFlow / TFDS are imported (TFDS reads TFDS_DATA_DIR at import time).
if (SHARED / "tensorflow_datasets").is_dir():
    os.environ.setdefault("TFDS_DATA_DIR", str(SHARED / "tensorflow_datasets"))
if (SHARED / "pretrained").is_dir():
    os.environ.setdefault("ZOO_WEIGHTS_DIR", str(SHARED / "pretrained"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def require_shared(*parts: str) -> Path:
    """The path under ../shared, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs real data at {path} (the ../shared folder beside the checkout), absent here")
    return path


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def _tiny_model():
    """Conv, depthwise, add, leaky ReLU, flatten, dense, softmax: every op class of the zoo's models."""
    import keras

    from common.graph.layers import StaticFlatten

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.Add()([x, keras.layers.Conv2D(4, 1)(inputs)])
    x = keras.layers.LeakyReLU(0.1)(x)
    x = StaticFlatten()(x)
    outputs = keras.layers.Dense(5, activation="softmax")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(float Keras model, its full-int8 .tflite path, the 64 calibration samples)."""
    import numpy as np

    from common.graph.quantize import quantize_int8
    from common.data.calibration import representative_dataset

    model = _tiny_model()
    calib = np.random.default_rng(0).uniform(-1, 1, (64, 8, 8, 3)).astype(np.float32)
    path = quantize_int8(model, representative_dataset(calib), tmp_path_factory.mktemp("q") / "tiny.tflite",
                         metadata={"calibration_n": 64})
    return model, path, calib


def check_deploy_kit(build: Path, name: str) -> dict:
    """What `make <name>.cc` wrote holds on the target: every golden sample reproduces its golden
    output bit for bit under TensorFlow Lite Micro, the measured TFLM arena is enough to run the file,
    every FULLY_CONNECTED has one weight scale and the file passes the Efinix rules."""
    import json

    import numpy as np

    from common.graph.efinix import efinix_violations
    from common.graph.tflite import op_names, read_graph
    from common.graph.runners import TFLMRunner

    out = build / name
    tflite = out / "model.tflite"
    profile = json.loads((out / "profile.json").read_text())
    runner = TFLMRunner(tflite, arena_size=profile["tflm_arena_bytes"])
    suffixes = [""] if (out / "golden_input.npy").is_file() else [f"_{k}" for k in range(len(runner.inputs))]
    inputs = [np.load(out / f"golden_input{s}.npy") for s in suffixes]
    outputs = [np.load(out / f"golden_output{s}.npy") for s in
               ([""] if (out / "golden_output.npy").is_file() else [f"_{k}" for k in range(len(runner.outputs))])]
    n = len(inputs[0])
    exact = sum(all(np.array_equal(a, b[i : i + 1]) for a, b in zip(runner.run_quantized([x[i : i + 1] for x in inputs]), outputs))
                for i in range(n))
    graph = read_graph(tflite).subgraphs[0]
    fc_scales = [len(graph.tensors[op.inputs[1]].quantization.scale)
                 for op, op_name in zip(graph.operators, op_names(tflite)) if op_name == "FULLY_CONNECTED"]
    assert n == 8 and exact == n, f"{name}: {exact}/{n} golden samples bit-exact under TFLM"
    assert all(s == 1 for s in fc_scales), f"{name}: FULLY_CONNECTED weight scales {fc_scales}"
    assert efinix_violations(tflite) == []
    assert f"quant_{name}_output.h" in {p.name for p in out.iterdir()}
    result = {"golden_exact": exact, "n": n, "fc_scales": fc_scales, "tflm_arena_bytes": profile["tflm_arena_bytes"]}
    if (SHARED / "efinix_tinyml_generator" / "bin" / "tflite").is_file():  # the Efinix generator on this build
        from test_efinix_generator import check_our_model

        result["efinix_modes"] = check_our_model(tflite, name, out / "efinix_check")
    return result


def check_readme_numbers(build: Path, name: str) -> None:
    """The measured numbers marked in models/<name>/README.md are the ones this fresh build gives
    (`python -m common.evaluation.readme_numbers --build <build> --write` regenerates them)."""
    from common.evaluation.readme_numbers import check

    drift = check(name, build)
    assert not drift, "README numbers drifted from a fresh build:\n" + "\n".join(drift)
