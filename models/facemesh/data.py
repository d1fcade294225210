"""Face crops for the landmark model from a folder of photos.

Each image is searched with MediaPipe's short-range face detector (`common.data.face_detector`;
the best-scoring anchor's face is kept), cropped to a square of 1.5x the face box around its centre (MediaPipe's
landmark ROI, without the eye-line rotation), and resized to 192x192 RGB in [0, 1]. Images without a
face are reported and skipped.

Calibration and scoring never share a photo: the recipe's rule (every 3rd photo of each folder,
by name) picks the calibrating photos, and evaluation leaves them out. Without --data-dir the photos
come from TFDS `lfw` (calibration train[:100], evaluation train[100:400]) where it is prepared or can
be downloaded.

    python -m models.facemesh.data --data-dir ../shared/data/faces --out build/facemesh/data.json
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import numpy as np

from common import env  # noqa: F401
from common.data.images import ImageError, images_below, read_image, resize
from common.data.items import DataSource, Items, relative_id, tfds_id, tfds_ids
from common.data.weights import sha256_of
from common.pipeline.data import step as data_step
from common.data.face_detector import FaceDetector
from models.facemesh.recipe import RECIPE

if TYPE_CHECKING:
    import tensorflow as tf

CROP_SIZE = RECIPE.input_shape[0]
CROP_SCALE = 1.5  # MediaPipe's face-landmark ROI: 1.5x the detection box, square


class NoFaceError(ValueError):
    """The detector found no face in an image."""


# ---- cropping -----------------------------------------------------------------------------

def square_crop_box(box: tuple[float, float, float, float], scale: float = CROP_SCALE) -> tuple[int, int, int]:
    """(x0, y0, side) in pixels of the square of `scale` x the box's longer side around its centre."""
    x_min, y_min, x_max, y_max = box
    side = max(1, int(round(max(x_max - x_min, y_max - y_min) * scale)))
    cx, cy = (x_min + x_max) / 2, (y_min + y_max) / 2
    return int(round(cx - side / 2)), int(round(cy - side / 2)), side


def crop_square(image: np.ndarray, x0: int, y0: int, side: int, size: int = CROP_SIZE) -> np.ndarray:
    """Crop the square (zero outside the image), resize to size x size; float32 RGB in [0, 1]."""
    h, w = image.shape[:2]
    out = np.zeros((side, side, image.shape[2]), np.float32)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(w, x0 + side), min(h, y0 + side)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return (resize(out, (size, size)) / 255.0).clip(0.0, 1.0).astype(np.float32)


def whole_image(image: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """The whole image resized (aspect not kept) to size x size, RGB in [0, 1]: the Efinix demo's input."""
    return (resize(image.astype(np.float32), (size, size)) / 255.0).clip(0.0, 1.0).astype(np.float32)


# ---- dataset ------------------------------------------------------------------------------

def list_face_images(data_dir: str | os.PathLike) -> list[Path]:
    """Every image below `data_dir` (recursively), sorted by path."""
    return images_below(data_dir, "face photos")


@dataclass
class FaceCrops:
    images: np.ndarray  # (N, 192, 192, 3) float32 RGB in [0, 1]
    sources: list[str]
    boxes: np.ndarray  # (N, 4) detection boxes, image pixels
    scores: np.ndarray  # (N,) detector scores
    whole_images: np.ndarray  # (N, 192, 192, 3) the whole photo resized, for the Efinix comparison
    skipped: list[dict] = field(default_factory=list)  # {"image", "reason"}

    def __len__(self) -> int:
        return len(self.images)


TFDS_NAME = RECIPE.data.tfds  # the default source where TFDS has it prepared (or can download it)


def _folder_items(data_dir: str, only: set[str] | None) -> Iterator[tuple[str, Callable[[], np.ndarray]]]:
    for path in list_face_images(data_dir):
        name = relative_id(path, data_dir)
        if only is None or name in only:
            yield name, (lambda p=path: read_image(p, "RGB"))


def _tfds_items(split: str, tfds_dir: str | None, only: set[str] | None) -> Iterator[tuple[str, Callable[[], np.ndarray]]]:
    from common.data.tfds import DatasetMissingError, tfds_builder

    try:
        builder = tfds_builder(TFDS_NAME, tfds_dir)
    except DatasetMissingError as exc:
        raise DatasetMissingError(f"{exc} Or use a folder of face photos instead: --data-dir <folder> "
                                  "(make: FACEMESH_DATA_DIR=<folder>).") from exc
    for i, example in enumerate(builder.as_dataset(split=split, shuffle_files=False)):
        name = tfds_id(TFDS_NAME, split, i)
        if only is None or name in only:
            image = np.asarray(example["image"])
            yield name, (lambda im=image: np.repeat(im, 3, axis=-1) if im.shape[-1] == 1 else im)


def _crop_faces(items: Iterable[tuple[str, Callable[[], np.ndarray]]], detector: FaceDetector, where: str) -> FaceCrops:
    crops, sources, boxes, scores, wholes, skipped = [], [], [], [], [], []
    for source, load in items:
        try:
            image = load()
        except ImageError as exc:
            skipped.append({"image": source, "reason": str(exc)})
            continue
        detection = detector.detect(image)
        if detection is None:
            skipped.append({"image": source, "reason": f"no face (detector score < {detector.min_score})"})
            continue
        crops.append(crop_square(image, *square_crop_box(detection.box)))
        wholes.append(whole_image(image))
        sources.append(source)
        boxes.append(detection.box)
        scores.append(detection.score)
    for s in skipped:
        warnings.warn(f"skipped {s['image']}: {s['reason']}", stacklevel=4)
    if not crops:
        raise NoFaceError(f"{where}: no face found in any of its images")
    return FaceCrops(np.stack(crops), sources, np.asarray(boxes, np.float32), np.asarray(scores, np.float32),
                     np.stack(wholes), skipped)


@lru_cache(maxsize=4)
def _load(data_dir: str | None, split: str, only: frozenset | None, detector_path: str | None,
          tfds_dir: str | None) -> FaceCrops:
    from common.pipeline.references import fetch_file

    detector = FaceDetector(fetch_file(RECIPE, "mediapipe_face_detection", detector_path))
    if data_dir is not None:
        return _crop_faces(_folder_items(data_dir, only), detector, data_dir)
    return _crop_faces(_tfds_items(split, tfds_dir, only), detector, f"TFDS {TFDS_NAME} {split}")


def load_face_crops(split: str = "all", *, data_dir: str | os.PathLike | None = None,
                    tfds_dir: str | os.PathLike | None = None, detector_path: str | os.PathLike | None = None,
                    only: set[str] | None = None) -> FaceCrops:
    """Face crops of the photos below `data_dir` (`split` "all"), or, without `data_dir`, of TFDS lfw
    `split` (e.g. "train[100:400]"); `only`: just the photos with these ids (relative paths, or TFDS
    example ids). The rich structure (whole photos, sources, skipped images); `load_dataset` is the
    tf.data view. Cached: the same arguments return the same object."""
    return _load(str(Path(data_dir)) if data_dir is not None else None, split,
                 frozenset(only) if only is not None else None, str(detector_path) if detector_path else None,
                 str(tfds_dir) if tfds_dir else None)


def load_dataset(split: str = "all", *, data_dir: str | os.PathLike | None = None,
                 tfds_dir: str | os.PathLike | None = None, batch_size: int | None = 32,
                 detector_path: str | os.PathLike | None = None) -> tf.data.Dataset:
    """A `tf.data` pipeline of (192x192x3 float32 RGB 0..1 face crop, int32 source index): the
    model's input, and the crop's index into `load_face_crops(<same arguments>).sources` (there are
    no ground-truth landmarks; the reference is MediaPipe's own model). Batched unless batch_size is
    None. Same sources as `load_face_crops`, in the same order."""
    import tensorflow as tf

    crops = load_face_crops(split, data_dir=data_dir, tfds_dir=tfds_dir, detector_path=detector_path)
    ds = tf.data.Dataset.from_tensor_slices((crops.images, np.arange(len(crops), dtype=np.int32)))
    return ds.batch(batch_size) if batch_size else ds


def list_items(source: DataSource, split: str, purpose: str = "evaluate") -> tuple[str, list[str]]:
    """(split, the ids of its photos: paths relative to the folder, or TFDS example ids), nothing decoded."""
    if source.data_dir:
        return "all", [relative_id(p, source.data_dir) for p in list_face_images(source.data_dir)]
    from common.data.tfds import tfds_builder

    n = tfds_builder(TFDS_NAME, source.tfds_dir).info.splits[split].num_examples
    return split, tfds_ids(TFDS_NAME, split, n)


def load_items(source: DataSource, split: str, *, only: set[str] | None = None, purpose: str = "evaluate") -> Items:
    """The face crops of `split` (of the photos `only`) as items; photos without a face are named in `skipped`."""
    crops = load_face_crops(split, data_dir=source.data_dir, tfds_dir=source.tfds_dir, only=only)
    hashes = [sha256_of(Path(source.data_dir) / s) if source.data_dir else "" for s in crops.sources]
    name = Path(source.data_dir).name if source.data_dir else f"{TFDS_NAME} {split}"
    return Items(crops.images, None, list(crops.sources), hashes, name,
                 skipped=[{"file": s["image"], "error": s["reason"]} for s in crops.skipped],
                 columns={"whole_images": crops.whole_images}, split=split)


def augment_crops(crops: np.ndarray, seed: int = 0) -> np.ndarray:
    """Calibration variety from few photos: each crop, its mirror image, and a brightness/contrast
    jittered copy of each (seeded)."""
    rng = np.random.default_rng(seed)
    mirrored = crops[:, :, ::-1]
    both = np.concatenate([crops, mirrored])
    gain = rng.uniform(0.7, 1.3, (len(both), 1, 1, 1)).astype(np.float32)
    bias = rng.uniform(-0.1, 0.1, (len(both), 1, 1, 1)).astype(np.float32)
    jittered = np.clip((both - 0.5) * gain + 0.5 + bias, 0.0, 1.0)
    return np.concatenate([both, jittered]).astype(np.float32)


def describe(source: DataSource, download: bool = True) -> dict:
    """Faces found and photos skipped (the Make chain's data step)."""
    split = "all" if source.data_dir else "train[:400]"
    crops = load_face_crops(split, data_dir=source.data_dir, tfds_dir=source.tfds_dir)
    for s in crops.skipped:
        print(f"skipped {s['image']}: {s['reason']}")
    return {"source": str(source.data_dir) if source.data_dir else f"tfds:{TFDS_NAME} {split}", "crop_size": CROP_SIZE,
            "crop_scale": CROP_SCALE, "faces": len(crops), "images": crops.sources, "skipped": crops.skipped}


main = data_step("facemesh")


if __name__ == "__main__":
    from common.cli import run

    run(main)
