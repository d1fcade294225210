"""Model-agnostic prediction: the same call scores a `.keras`/`.h5` model or a `.tflite` file."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common import env  # noqa: F401
from common.tflite import device_runner


def load_predictor(path: str | os.PathLike):
    """A `predict(x) -> np.ndarray` for a Keras model file or a `.tflite` (float in, float out)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    if path.suffix == ".tflite":  # int8: TensorFlow Lite Micro, the target's arithmetic
        runner = device_runner(path)
        return lambda x: runner.predict(x, progress=True)
    if path.suffix in (".keras", ".h5"):
        from common.training import load_model

        model = load_model(path)
        return lambda x: model.predict(x, batch_size=64, verbose=0)
    raise ValueError(f"{path}: expected a .keras, .h5 or .tflite model")


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
    from common.validate import read_quantization_metadata

    if not data_dir or not str(tflite_path).endswith(".tflite"):
        return None
    meta = read_quantization_metadata(tflite_path)
    if meta.get("calibration_data_dir") != str(Path(data_dir).resolve()):
        return None
    return set(meta.get("calibration_files", []))


def held_out_mask(paths: list[str], tflite_path: str | os.PathLike, data_dir: str | os.PathLike | None) -> np.ndarray | None:
    """True for the files that did not calibrate `tflite_path` (None: it was calibrated elsewhere)."""
    used = calibration_files(tflite_path, data_dir)
    if used is None:
        return None
    return np.array([name not in used for name in relative_names(paths, data_dir)], bool)
