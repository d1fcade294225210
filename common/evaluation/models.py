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


# One evaluation path: the predictions of a (model file, input set) pair are computed once per
# process, whichever metric, plot, golden sample or report asks for them again.
_PREDICTIONS: dict[tuple, object] = {}
_MAX_CACHED = 16


def _fingerprint(x) -> tuple:
    import hashlib

    arrays = [x] if isinstance(x, np.ndarray) else list(x)
    digest = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(f"{a.shape}{a.dtype}".encode())
        digest.update(a.data)
    return (digest.hexdigest(),)


def _file_key(path: Path, runtime: str) -> tuple:
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size, runtime)


def cached_predictions(key: tuple, x, compute):
    """`compute(x)`, or the result an earlier call with the same `key` and the same inputs returned."""
    full = (*key, *_fingerprint(x))
    if full not in _PREDICTIONS:
        if len(_PREDICTIONS) >= _MAX_CACHED:
            _PREDICTIONS.pop(next(iter(_PREDICTIONS)))
        _PREDICTIONS[full] = compute(x)
    return _PREDICTIONS[full]


def load_predictor(path: str | os.PathLike, runtime: str = "device"):
    """A `predict(x) -> np.ndarray` for a Keras model file or a `.tflite` (float in, float out).
    A `.tflite` runs in TensorFlow Lite Micro (`runtime="device"`, the target's arithmetic) or in
    LiteRT's optimized kernels (`"litert"`). Repeated calls on the same inputs are not recomputed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    if path.suffix == ".tflite":
        if runtime not in ("device", "litert"):
            raise ValueError(f"runtime must be 'device' or 'litert', got {runtime!r}")
        holder: dict = {}

        def run(x):
            if "runner" not in holder:
                holder["runner"] = device_runner(path) if runtime == "device" else Runner(path, kernels="optimized")
            return holder["runner"].predict(x, progress=runtime == "device")

        return lambda x: cached_predictions(_file_key(path, runtime), x, run)
    if path.suffix in (".keras", ".h5"):
        from common.graph.keras_io import load_model

        model = load_model(path)
        return lambda x: cached_predictions(_file_key(path, "keras"), x,
                                            lambda x: model.predict(x, batch_size=64, verbose=0))
    raise ValueError(f"{path}: expected a .keras, .h5 or .tflite model")


def check_model_files(model: str | os.PathLike, *accepted: tuple[int, ...], int8: bool = False,
                      float_model: str | os.PathLike | None = None, data: str = "the inputs") -> None:
    """What an evaluate CLI checks before loading data: `model` (an int8 `.tflite` when `int8`, i.e.
    when it fills `metric_int8`) and `float_model` take one of the `accepted` input shapes."""
    if int8:
        require_int8_tflite(model, "--model")
    require_input_shape(model, *accepted, data=data)
    if float_model:
        require_input_shape(float_model, *accepted, data=data)


def as_numpy(pred) -> np.ndarray:
    return np.asarray(pred[0] if isinstance(pred, list) else pred)


def relative_names(paths: list[str], data_dir: str | os.PathLike) -> list[str]:
    """Paths of a folder dataset as recorded in a `.quant.json` sidecar: relative to the folder."""
    root = Path(data_dir).resolve()

    def relative(path: str) -> str:
        try:
            return Path(path).resolve().relative_to(root).as_posix()
        except ValueError:  # already relative to the folder
            return Path(path).as_posix()

    return [relative(p) for p in paths]


def calibration_files(tflite_path: str | os.PathLike, data_dir: str | os.PathLike | None) -> set[str] | None:
    """The files of `data_dir` (relative paths) that calibrated `tflite_path`, from its sidecar;
    None when it was calibrated on other data (or is not a zoo-built .tflite)."""
    from common.graph.quantize import read_quantization_metadata

    if not data_dir or not str(tflite_path).endswith(".tflite"):
        return None
    meta = read_quantization_metadata(tflite_path)
    if meta.get("calibration_data_dir") != str(Path(data_dir).resolve()):
        return None
    return set(meta.get("calibration_files", []))


def folder_calibration(x: np.ndarray, paths: list[str], data_dir: str | os.PathLike, fraction: float,
                       seed: int) -> tuple[np.ndarray, dict]:
    """The rows of `x` (one per file in `paths`, below the folder `data_dir`) of a seeded `fraction`
    of the files, and the `.quant.json` entries through which evaluation leaves those files out
    (`held_out_mask`)."""
    from common.data.calibration import calibration_subset

    names = relative_names(paths, data_dir)
    chosen = set(calibration_subset(names, fraction, seed))
    keep = np.array([name in chosen for name in names], bool)
    return x[keep], {"calibration_data_dir": str(Path(data_dir).resolve()), "calibration_files": sorted(chosen)}


def held_out_mask(paths: list[str], tflite_path: str | os.PathLike, data_dir: str | os.PathLike | None) -> np.ndarray | None:
    """True for the files that did not calibrate `tflite_path` (None: it was calibrated elsewhere)."""
    used = calibration_files(tflite_path, data_dir)
    if used is None:
        return None
    return np.array([name not in used for name in relative_names(paths, data_dir)], bool)
