"""Model-agnostic prediction: the same call scores a `.keras`/`.h5` model or a `.tflite` file."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common import env  # noqa: F401
from common.errors import ModelFileError  # noqa: F401  (raised here; defined in the leaf module)
from common.graph.runners import Runner, device_runner

INT8_TENSOR_TYPES = frozenset({"INT8", "INT32"})  # int32 = biases and shape operands of a full-int8 graph


def require_int8_tflite(path: str | os.PathLike, role: str = "--model") -> Path:
    """`path` if it is a full-int8 `.tflite` (int8 inputs and outputs, no float tensors); otherwise a
    one-line ModelFileError, so that a float file never fills `metric_int8`."""
    from common.graph.tflite import tensor_types

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no .tflite file at {path} ({role})")
    if path.suffix != ".tflite":
        raise ModelFileError(f"{role} {path} is not a .tflite file; an int8 .tflite is expected here")
    try:
        runner = Runner(path)
        types = tensor_types(path)
    except ValueError as exc:
        raise ModelFileError(f"{role} {exc}") from None
    io = [np.dtype(d["dtype"]).name for d in runner.inputs + runner.outputs]
    float_types = sorted(set(types) - INT8_TENSOR_TYPES)
    if any(t != "int8" for t in io) or float_types:
        found = ", ".join(f"{t} x{types[t]}" for t in float_types) or "no float tensors"
        raise ModelFileError(f"{role} {path} is not a full-int8 .tflite (inputs/outputs {'/'.join(sorted(set(io)))}, "
                             f"{found}); give the int8 file that quantize wrote")
    return path


def input_shapes(path: str | os.PathLike) -> list[tuple[int, ...]]:
    """Per-sample input shapes (batch dimension dropped) of a `.tflite`, `.keras` or `.h5` model."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    if path.suffix == ".tflite":
        try:
            return [tuple(int(n) for n in d["shape"][1:]) for d in Runner(path).inputs]
        except ValueError as exc:
            raise ModelFileError(str(exc)) from None
    if path.suffix in (".keras", ".h5"):
        from common.graph.keras_io import load_model

        shapes = load_model(path).input_shape
        shapes = shapes if isinstance(shapes, list) else [shapes]
        return [tuple(shape[1:]) for shape in shapes]
    raise ModelFileError(f"{path}: expected a .keras, .h5 or .tflite model")


def require_input_shape(path: str | os.PathLike, *accepted: tuple[int, ...], data: str = "the inputs") -> tuple[int, ...]:
    """The input shape of the model file `path` if it is one of `accepted` (per sample, e.g.
    (32, 32, 3)); otherwise a one-line ModelFileError. Call it before loading the data."""
    shapes = input_shapes(path)
    if len(shapes) != 1 or shapes[0] not in {tuple(a) for a in accepted}:
        got = " + ".join("x".join(map(str, s)) for s in shapes)
        want = " or ".join("x".join(map(str, a)) for a in accepted)
        raise ModelFileError(f"{path} takes input {got}; {data} are {want}: not a model for this evaluation")
    return shapes[0]


def load_predictor(path: str | os.PathLike, runtime: str = "device", batch_size: int = 64):
    """A `predict(x) -> outputs` for a Keras model file or a `.tflite` (float in, float out).
    A `.tflite` runs in TensorFlow Lite Micro (`runtime="device"`, the target's arithmetic; a float
    file runs in LiteRT) or in LiteRT's optimized kernels (`"litert"`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    if path.suffix == ".tflite":
        if runtime not in ("device", "litert"):
            raise ValueError(f"runtime must be 'device' or 'litert', got {runtime!r}")
        runner = device_runner(path) if runtime == "device" else Runner(path, kernels="optimized")
        return lambda x: runner.predict(x, batch_size=batch_size, progress=runtime == "device")
    if path.suffix in (".keras", ".h5"):
        from common.graph.keras_io import load_model

        model = load_model(path)
        return lambda x: model.predict(x, batch_size=batch_size, verbose=0)
    raise ModelFileError(f"{path}: expected a .keras, .h5 or .tflite model")


def check_model_files(model: str | os.PathLike, *accepted: tuple[int, ...], int8: bool = False,
                      float_model: str | os.PathLike | None = None, data: str = "the inputs") -> None:
    """What an evaluate CLI checks before loading data: `model` (an int8 `.tflite` when `int8`, i.e.
    when it fills `metric_int8`) and `float_model` take one of the `accepted` input shapes."""
    if int8:
        require_int8_tflite(model, "--model")
    require_input_shape(model, *accepted, data=data)
    if float_model:
        require_input_shape(float_model, *accepted, data=data)
