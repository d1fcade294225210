"""Which kind of model a path holds, decided from its content (not its name), and loading it as Keras.

    detect_format(path) -> "keras" | "h5" | "savedmodel" | "onnx" | "darknet"
    load_model_any(path, weights=None) -> (keras.Model, format)

- keras: a zip archive holding `config.json` (Keras 3 `.keras`)
- h5: an HDF5 file (tf.keras / Keras `.h5`)
- savedmodel: a folder holding `saved_model.pb` (or that file itself)
- onnx: an ONNX ModelProto with a graph (parsed with `onnx`, imported lazily)
- darknet: a text cfg whose first section is `[net]`; its `.weights` is given separately or lies beside it
  with the same stem (a `.weights` file whose same-stem `.cfg` lies beside it is taken too)

Anything else is one ConversionError saying what was found and which formats are accepted.
"""
from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from common.errors import ConversionError

FORMATS = ("keras", "h5", "savedmodel", "onnx", "darknet")
DESCRIPTIONS = {
    "keras": "a Keras .keras file (zip with config.json)",
    "h5": "a Keras .h5 file (HDF5)",
    "savedmodel": "a TensorFlow SavedModel folder (with saved_model.pb)",
    "onnx": "an ONNX model",
    "darknet": "a Darknet .cfg with a [net] section (+ its .weights)",
}
ACCEPTED = "; ".join(DESCRIPTIONS[f] for f in FORMATS)
_HEAD = 64 * 1024  # bytes read to recognise a file
_ONNX_MAX = 2 ** 31  # protobuf's size limit: larger files are not parsed whole to detect them


def _refuse(path: Path, found: str) -> ConversionError:
    return ConversionError(f"{path}: {found} is not a model the converter takes; accepted: {ACCEPTED}")


def detect_format(path: str | os.PathLike) -> str:
    """The format of the model at `path`, from its content; a ConversionError for anything else."""
    path = Path(path)
    if not path.exists():
        raise _refuse(path, "no such file or folder")
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "savedmodel"
        raise _refuse(path, "a folder without saved_model.pb")
    if not path.is_file():
        raise _refuse(path, "not a regular file")
    with path.open("rb") as f:  # an unreadable file stays a PermissionError (a user error already)
        head = f.read(_HEAD)
    if not head:
        raise _refuse(path, "an empty file")
    if path.name == "saved_model.pb" and _is_saved_model(path):
        return "savedmodel"
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError):
            raise _refuse(path, "a damaged zip archive") from None
        if "config.json" in names:
            return "keras"
        raise _refuse(path, "a zip archive without config.json (not a Keras model archive)")
    if _is_hdf5(path, head):
        return "h5"
    if _darknet_cfg_text(head):
        return "darknet"
    if path.suffix.lower() == ".weights" and _beside(path, ".cfg") is not None:
        return "darknet"
    known = _known_non_model(head)
    if known is None and path.suffix.lower() == ".weights" and _darknet_weights_header(head):
        known = f"Darknet .weights without its cfg ({path.with_suffix('.cfg').name}) beside it (give the cfg as the model)"
    if known:
        raise _refuse(path, known)
    if _is_onnx(path):
        return "onnx"
    raise _refuse(path, _describe(head))


def _is_saved_model(path: Path) -> bool:
    try:
        from tensorflow.core.protobuf import saved_model_pb2
    except ImportError:  # pragma: no cover
        return True
    saved = saved_model_pb2.SavedModel()
    try:
        saved.ParseFromString(path.read_bytes())
    except Exception:  # noqa: BLE001  (a DecodeError: not one)
        return False
    return bool(saved.meta_graphs)


def _is_hdf5(path: Path, head: bytes) -> bool:
    signature = b"\x89HDF\r\n\x1a\n"
    if head.startswith(signature):
        return True
    try:
        import h5py
    except ImportError:  # pragma: no cover
        return False
    try:
        return bool(h5py.is_hdf5(str(path)))  # also finds the signature after a user block
    except OSError:
        return False


def _text(head: bytes) -> str | None:
    if b"\0" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a character cut by the read limit
            return head[:exc.start].decode("utf-8", "replace")
        return None


def _darknet_cfg_text(head: bytes) -> bool:
    """Text whose first section header is `[net]` (comments and blank lines before it allowed)."""
    text = _text(head)
    if text is None:
        return False
    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            return line.endswith("]") and line[1:-1].strip().lower() == "net"
    return False


def _beside(path: Path, suffix: str) -> Path | None:
    """The file with `path`'s stem and `suffix` beside it, when it is a Darknet cfg (for `.cfg`) or exists."""
    other = path.with_suffix(suffix)
    if not other.is_file():
        return None
    if suffix == ".cfg":
        with other.open("rb") as f:
            if not _darknet_cfg_text(f.read(_HEAD)):
                return None
    return other


def _darknet_weights_header(head: bytes) -> bool:
    """Darknet's header: int32 major, minor, revision (small), then the `seen` counter."""
    if len(head) < 20:
        return False
    major, minor, revision = (int.from_bytes(head[i:i + 4], "little", signed=True) for i in (0, 4, 8))
    return 0 <= major <= 9 and 0 <= minor <= 99 and 0 <= revision <= 999


def _known_non_model(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "a JPEG image"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "a PNG image"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "a GIF image"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "a WAV audio file"
    if head[4:8] == b"TFL3":
        return "a TensorFlow Lite flatbuffer (give the float model it was converted from)"
    return None


def _is_onnx(path: Path) -> bool:
    """An ONNX ModelProto with a graph; parsed with `onnx`, imported only here."""
    if path.stat().st_size >= _ONNX_MAX:
        return False
    try:
        import onnx
    except ImportError:
        if path.suffix.lower() == ".onnx":
            raise ConversionError(f"{path}: reading an ONNX model needs the 'onnx' package, which is not installed") from None
        return False
    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001  (any parse failure: not ONNX)
        return False
    return bool(model.ir_version > 0 and model.HasField("graph") and (len(model.graph.node) or len(model.graph.output)))


def _describe(head: bytes) -> str:
    text = _text(head)
    if text is not None:
        return "a text file without a Darknet [net] section"
    return f"unrecognised binary data (first bytes {head[:8].hex(' ')})"


# ---- loading --------------------------------------------------------------------------------------

def load_model_any(path: str | os.PathLike, weights: str | os.PathLike | None = None):
    """(Keras model, format) for the model at `path`; `weights` is the Darknet `.weights` file (for a
    cfg; by default the one with the cfg's stem beside it). Every failure is one ConversionError."""
    path = Path(path)
    fmt = detect_format(path)
    if weights is not None and fmt != "darknet":
        raise ConversionError(f"{path}: a separate weights file is only for a Darknet cfg; this is {DESCRIPTIONS[fmt]}")
    if fmt in ("keras", "h5"):
        return _load_keras(path, fmt), fmt
    if fmt == "savedmodel":
        from common.convert.savedmodel import load_savedmodel

        return load_savedmodel(path), fmt
    if fmt == "onnx":
        try:
            from common.convert.onnx_import import load_onnx
        except ModuleNotFoundError as exc:
            if exc.name not in ("common.convert.onnx_import", "onnx"):
                raise
            raise ConversionError(f"{path}: ONNX import is not available ({exc})") from None
        return load_onnx(path), fmt
    from common.graph.darknet import load_darknet

    cfg, weights_path = _darknet_pair(path, weights)
    return load_darknet(cfg, weights_path), fmt


def _darknet_pair(path: Path, weights: str | os.PathLike | None) -> tuple[Path, Path | None]:
    """(cfg, weights) from a cfg (weights given or None = beside it) or from a `.weights` beside its cfg."""
    with path.open("rb") as f:
        is_cfg = _darknet_cfg_text(f.read(_HEAD))
    if is_cfg:
        return path, Path(weights) if weights is not None else None
    cfg = _beside(path, ".cfg")
    if weights is not None and Path(weights).resolve() != path.resolve():
        raise ConversionError(f"{path} is a Darknet .weights file; give its cfg ({cfg}) as the model and "
                              f"{weights} as the weights, or one of them")
    return cfg, path


def _load_keras(path: Path, fmt: str):
    """keras_io.load_model (the zoo's custom layers registered); Keras picks its reader by suffix, so a
    file whose name does not say what it holds is read through a link that does."""
    from common.graph.keras_io import load_model

    suffix = ".keras" if fmt == "keras" else ".h5"
    ok = path.suffix.lower() in ((".keras",) if fmt == "keras" else (".h5", ".hdf5"))
    try:
        if ok:
            return load_model(path)
        with tempfile.TemporaryDirectory(prefix="zoo-convert-") as tmp:
            link = Path(tmp) / f"model{suffix}"
            link.symlink_to(path.resolve())
            return load_model(link)
    except ConversionError:
        raise
    except Exception as exc:  # noqa: BLE001  (one line, whatever Keras raised)
        if fmt == "h5":  # a tf.keras 2.x file with an option Keras 3 dropped (DepthwiseConv2D groups=1)
            from common.convert.savedmodel import load_legacy_h5

            try:
                return load_legacy_h5(path)
            except Exception:  # noqa: BLE001  (Keras' own reason is the one to show)
                pass
        why = " ".join(str(exc).split()) or type(exc).__name__
        if len(why) > 400:
            why = why[:400] + "..."
        what = "Keras .keras" if fmt == "keras" else "Keras .h5"
        raise ConversionError(f"{path}: cannot load the {what} model ({why})") from exc
