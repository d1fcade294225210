"""Keras model files of the zoo: atomic saves, loads with the zoo's custom layers registered."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from common import env  # noqa: F401
from common.atomic import atomic_path
from common.errors import ModelFileError
from common.workers import for_this_worker


def save_model(model, path: str | os.PathLike) -> Path:
    """Save a Keras model atomically (`.keras` format)."""
    path = for_this_worker(path)
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    print(f"saved {path}")
    return Path(path)


def load_model(path: str | os.PathLike):
    """Load a `.keras`/`.h5` model with the zoo's custom layers registered; no optimizer state.
    A missing file is a FileNotFoundError, a corrupt or truncated one a ModelFileError naming it."""
    import keras

    from common.graph import layers  # noqa: F401  (registers the custom layers)

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no Keras model at {path}")
    with path.open("rb"):
        pass  # an unreadable file stays a PermissionError, not "corrupt"
    kind = _check_container(path)
    try:
        return keras.models.load_model(path, compile=False)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        if kind is None:  # not a Keras suffix: Keras' own "format not supported" says it best
            raise
        raise _unreadable(path, kind, " ".join(str(exc).split()) or type(exc).__name__) from exc


def _check_container(path: Path) -> str | None:
    """The kind, `.keras` or `.h5`, once the file's container looks whole (None for another suffix);
    a ModelFileError otherwise, as Keras calls a damaged `.keras` zip "File not found"."""
    suffix = path.suffix.lower()
    if suffix == ".keras":
        _check_keras_zip(path)
        return ".keras"
    if suffix in (".h5", ".hdf5"):
        import h5py

        if not h5py.is_hdf5(path):
            raise _unreadable(path, ".h5", "not an HDF5 file")
        return ".h5"
    return None


def _check_keras_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:  # truncation included: a zip's directory is at its end
        raise _unreadable(path, ".keras", "not a zip archive") from exc
    missing = [m for m in ("config.json", "model.weights.h5") if m not in names]
    if missing and not (missing == ["model.weights.h5"] and "model.weights.npz" in names):
        raise _unreadable(path, ".keras", f"no {' or '.join(missing)} in the archive")


def _unreadable(path: Path, kind: str, why: str) -> ModelFileError:
    return ModelFileError(f"{path} is not a readable {kind} model (corrupt or truncated: {why})")
