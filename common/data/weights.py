"""Registry of published weight files and their resolution.

Resolution order for `fetch(name)`:
  1. an explicit path given by the caller,
  2. the directory in $ZOO_WEIGHTS_DIR (searched recursively by file name),
  3. the Keras cache ($KERAS_HOME or ~/.keras, sub-directory `zoo_weights`),
  4. a download from the upstream URL through `keras.utils.get_file`.
Every file is checked against its pinned sha256 before it is returned; a mismatch is an error.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from common.errors import ChecksumError, WeightsNotFoundError  # noqa: F401  (raised here; defined in the leaf module)

WEIGHTS_DIR_ENV = "ZOO_WEIGHTS_DIR"
CACHE_SUBDIR = "zoo_weights"

_MLCOMMONS = "https://github.com/mlcommons/tiny/raw/master/benchmark/training"
_EFINIX = "https://github.com/Efinix-Inc/tinyml/raw/main/tools/tinyml_generator/model"






@dataclass(frozen=True)
class WeightFile:
    filename: str  # may contain '/', e.g. "kws_ref_model/variables/variables.index"
    sha256: str
    url: str | None  # None: not downloadable as a single file, `how_to_get` says what to do
    how_to_get: str = ""


REGISTRY: dict[str, WeightFile] = {
    # MLPerf Tiny reference models (Apache-2.0)
    "mlperf_resnet8": WeightFile(
        "pretrainedResnet.h5",
        "5f938a8eea605438cc7360aa13c987bc6d7bd0c8d931b2917361ae7ae4eeda2f",
        f"{_MLCOMMONS}/image_classification/trained_models/pretrainedResnet.h5",
    ),
    "mlperf_resnet8_int8": WeightFile(
        "pretrainedResnet_quant.tflite",
        "3c002613d1b2475eb51dd78dfb85a546c8ae658dee71cf6ade43b022fe205415",
        f"{_MLCOMMONS}/image_classification/trained_models/pretrainedResnet_quant.tflite",
    ),
    "mlperf_kws_saved_model_pb": WeightFile(
        "kws_ref_model/saved_model.pb",
        "80665dd19eeb03d1152fdc098b5635261731b23478d09f6ff2166da799f98138",
        f"{_MLCOMMONS}/keyword_spotting/trained_models/kws_ref_model/saved_model.pb",
    ),
    "mlperf_kws_variables_data": WeightFile(
        "kws_ref_model/variables/variables.data-00000-of-00001",
        "5ebfddd34e85a2d35e87e27a8a803353534019bb460907b16db5fa72d757e8c5",
        f"{_MLCOMMONS}/keyword_spotting/trained_models/kws_ref_model/variables/variables.data-00000-of-00001",
    ),
    "mlperf_kws_variables_index": WeightFile(
        "kws_ref_model/variables/variables.index",
        "3f21dd9ea6736e20e70c5ed2f40ed9d8a7d12b98316ac0e4ab8f4eb7e303d738",
        f"{_MLCOMMONS}/keyword_spotting/trained_models/kws_ref_model/variables/variables.index",
    ),
    "mlperf_kws_int8": WeightFile(
        "kws_ref_model.tflite",
        "aeea436800704fce17b17292e4412630ad856e9d777c044c64ef748a880bd0ae",
        f"{_MLCOMMONS}/keyword_spotting/trained_models/kws_ref_model.tflite",
    ),
    "mlperf_ad01": WeightFile(
        "ad01.h5",
        "651a62de1b7facd68d1269373992a2d09ffd28e6a816935d4834fcc558bde512",
        f"{_MLCOMMONS}/anomaly_detection/trained_models/ad01.h5",
    ),
    "mlperf_ad01_int8": WeightFile(
        "ad01_int8.tflite",
        "87cf24194ef93d1d9b11a591d805526b98008e351655d29883c825c9c106ba24",
        f"{_MLCOMMONS}/anomaly_detection/trained_models/ad01_int8.tflite",
    ),
    "mlperf_vww96": WeightFile(
        "vww_96.h5",
        "af9111d50e6e85b2f2123345e0316ef1c384865ebf6b06340ddac7e66017450f",
        f"{_MLCOMMONS}/visual_wake_words/trained_models/vww_96.h5",
    ),
    "mlperf_vww96_int8": WeightFile(
        "vww_96_int8.tflite",
        "597a384c8c2c8a1276f04702f25013b7838f2f814f1ca7c174d295b73e3d6b7b",
        f"{_MLCOMMONS}/visual_wake_words/trained_models/vww_96_int8.tflite",
    ),
    # Efinix TinyML Generator reference int8 models (MIT): what our exports are compared with
    "efinix_resnet": WeightFile(
        "resnet_image_classify.tflite",
        "3c002613d1b2475eb51dd78dfb85a546c8ae658dee71cf6ade43b022fe205415",
        f"{_EFINIX}/resnet_image_classify.tflite",
    ),
    "efinix_dscnn": WeightFile(
        "ds_cnn_kws.tflite",
        "aeea436800704fce17b17292e4412630ad856e9d777c044c64ef748a880bd0ae",
        f"{_EFINIX}/ds_cnn_kws.tflite",
    ),
    "efinix_autoencoder": WeightFile(
        "deep_autoencoder_anomaly_detection.tflite",
        "87cf24194ef93d1d9b11a591d805526b98008e351655d29883c825c9c106ba24",
        f"{_EFINIX}/deep_autoencoder_anomaly_detection.tflite",
    ),
    "efinix_mobilenet": WeightFile(
        "mobilenetv1_person_detect.tflite",
        "808cfdfc0cf3a6fa6f6fa26bfa379ea97c16d5db7334637766e39c3408502e9d",
        f"{_EFINIX}/mobilenetv1_person_detect.tflite",
    ),
    "efinix_yolo": WeightFile(
        "yolo_person_detect.tflite",
        "0d74e3ef5c32dbc08fd3ae06eb705afb58d9bdd89562370c83de91d1d8e831ab",
        f"{_EFINIX}/yolo_person_detect.tflite",
    ),
    "efinix_face_landmark": WeightFile(
        "mediapipe_face_landmark.tflite",
        "4b7dd6c2e4be98a9d86307a24225a78d9f1f6f0ffc443b8b110d94a0ffb4d437",
        f"{_EFINIX}/mediapipe_face_landmark.tflite",
    ),
    "efinix_face_detection": WeightFile(
        "mediapipe_face_detection.tflite",
        "886687a6a62e7a9508f5c6cc9f0fcc0fb1462058aa2bbe54496dc570a1e22751",
        f"{_EFINIX}/mediapipe_face_detection.tflite",
    ),
    # MediaPipe float models, as shipped inside the PyPI wheel mediapipe==0.10.14 (Apache-2.0)
    "mediapipe_face_landmark": WeightFile(
        "face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        None,
        "run `pip download --no-deps mediapipe==0.10.14` and take "
        "mediapipe/modules/face_landmark/face_landmark.tflite out of the wheel",
    ),
    "mediapipe_face_detection": WeightFile(
        "face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        None,
        "run `pip download --no-deps mediapipe==0.10.14` and take "
        "mediapipe/modules/face_detection/face_detection_short_range.tflite out of the wheel",
    ),
}


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: str | os.PathLike, expected_sha256: str) -> Path:
    """Return `path` if its sha256 matches, else raise ChecksumError naming file and both hashes."""
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise ChecksumError(
            f"checksum mismatch for {path}: expected sha256 {expected_sha256}, got {actual}. "
            "The file is corrupt or not the published one; delete it and fetch it again."
        )
    return Path(path)


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / CACHE_SUBDIR


def _search_weights_dir(root: Path, filename: str) -> Path | None:
    """Find `filename` (which may hold a sub-path) anywhere below `root`; deterministic order."""
    parts = Path(filename).parts
    for candidate in sorted(root.rglob(parts[-1])):
        if candidate.is_file() and candidate.parts[-len(parts):] == parts:
            return candidate
    return None


def fetch(name: str, path: str | os.PathLike | None = None) -> Path:
    """Return a verified local path of the registered file `name`."""
    if name not in REGISTRY:
        raise KeyError(f"unknown weights {name!r}; registered: {', '.join(sorted(REGISTRY))}")
    entry = REGISTRY[name]
    if path is not None:
        if not Path(path).is_file():
            raise WeightsNotFoundError(f"{name}: no file at {path}")
        return verify(path, entry.sha256)

    weights_dir = os.environ.get(WEIGHTS_DIR_ENV)
    if weights_dir:
        found = _search_weights_dir(Path(weights_dir), entry.filename)
        if found is not None:
            return verify(found, entry.sha256)

    cached = keras_cache_dir() / entry.filename
    if cached.is_file():
        return verify(cached, entry.sha256)

    if entry.url is None:
        raise WeightsNotFoundError(
            f"{entry.filename} ({name}) is not available locally. To get it: {entry.how_to_get}; "
            f"then put it in a folder named by ${WEIGHTS_DIR_ENV} or in {cached.parent}."
        )
    return _download(name, entry)


def _download(name: str, entry: WeightFile) -> Path:
    import keras

    subdir = Path(CACHE_SUBDIR, *Path(entry.filename).parts[:-1])
    try:
        local = keras.utils.get_file(
            fname=Path(entry.filename).name,
            origin=entry.url,
            file_hash=entry.sha256,
            hash_algorithm="sha256",
            cache_subdir=str(subdir),
        )
    except Exception as exc:  # no network, HTTP error, or get_file's own hash check
        raise WeightsNotFoundError(
            f"could not download {entry.filename} ({name}) from {entry.url}: {exc}. "
            f"Offline? Put the file in a folder and point ${WEIGHTS_DIR_ENV} at it."
        ) from exc
    return verify(local, entry.sha256)
