"""The MediaPipe float models this directory imports, from the weights registry or the PyPI wheel."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from common.data import weights

MEDIAPIPE_WHEEL = "mediapipe==0.10.14"
WHEEL_MEMBERS = {
    "mediapipe_face_landmark": "mediapipe/modules/face_landmark/face_landmark.tflite",
    "mediapipe_face_detection": "mediapipe/modules/face_detection/face_detection_short_range.tflite",
}


def extract_from_wheel(name: str, wheel: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """Take registry entry `name` out of a mediapipe wheel into the Keras cache; verified sha256."""
    from common.data.wheels import extract_member

    entry = weights.REGISTRY[name]
    out = Path(cache_dir or weights.keras_cache_dir()) / entry.filename
    extract_member(wheel, WHEEL_MEMBERS[name], out)
    try:
        return weights.verify(out, entry.sha256)
    except weights.ChecksumError:
        out.unlink(missing_ok=True)
        raise


def mediapipe_file(name: str, path: str | os.PathLike | None = None, allow_pip: bool = True) -> Path:
    """`weights.fetch(name)`; if it is nowhere local, `pip download` the wheel and extract it."""
    try:
        return weights.fetch(name, path)
    except weights.WeightsNotFoundError:
        if path is not None or not allow_pip:
            raise
    from common.data.wheels import download_wheel

    with tempfile.TemporaryDirectory() as tmp:
        return extract_from_wheel(name, download_wheel(MEDIAPIPE_WHEEL, tmp))
