"""Photos for the face detector, as it takes them: letterboxed to a square (black border), 128x128 RGB
in [-1, 1] (`common.data.face_detector.letterbox`).

`--data-dir` is any folder of photos, searched recursively, with faces or without: MediaPipe's float
detector is the truth of which faces there are, so a photo without any is where a false detection
shows. The zoo uses ../shared/data (face photos, COCO images with and without people, two 96x96
gray samples). An unreadable file is named and skipped. Calibration and scoring never share a photo:
every 3rd photo of each folder (by name) calibrates and is not scored.

    python -m models.face_detection.data --data-dir ../shared/data --out build/face_detection/data.json
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common import env  # noqa: F401
from common.data.face_detector import letterbox
from common.data.images import ImageError, images_below, read_image, resize
from common.data.items import DataSource, Items, relative_id
from common.data.weights import sha256_of
from common.errors import UserError
from common.pipeline.data import step as data_step
from models.face_detection.recipe import RECIPE

if TYPE_CHECKING:
    import tensorflow as tf

INPUT_SIZE = RECIPE.input_shape[0]


def list_photos(data_dir: str | Path) -> list[Path]:
    """Every image below `data_dir` (recursively), sorted by path."""
    return images_below(data_dir, "photos")


def centre_square(image: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """The largest centred square of the photo, resized: the input without a letterbox border (calibration)."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = image[top:top + side, left:left + side, :3].astype(np.float32)
    return (resize(square, (size, size)) / 127.5 - 1.0).astype(np.float32)


def _require_folder(source: DataSource) -> Path:
    if source.data_dir is None:
        raise UserError("face_detection reads a folder of photos: give --data-dir <folder> "
                        "(make: FACE_DETECTION_DATA_DIR=<folder>)")
    return Path(source.data_dir)


def list_items(source: DataSource, split: str, purpose: str = "evaluate") -> tuple[str, list[str]]:
    """(split, the photos' paths relative to the folder), nothing decoded."""
    folder = _require_folder(source)
    return "all", [relative_id(p, folder) for p in list_photos(folder)]


def load_items(source: DataSource, split: str, *, only: set[str] | None = None, purpose: str = "evaluate") -> Items:
    """The letterboxed photos (those of `only`); unreadable files are named in `skipped`."""
    folder = _require_folder(source)
    x, squares, ids, hashes, sizes, skipped = [], [], [], [], [], []
    for path in list_photos(folder):
        name = relative_id(path, folder)
        if only is not None and name not in only:
            continue
        try:
            image = read_image(path, "RGB")
        except ImageError as exc:
            skipped.append({"file": name, "error": str(exc)})
            continue
        x.append(letterbox(image, INPUT_SIZE)[0])
        squares.append(centre_square(image))
        ids.append(name)
        hashes.append(sha256_of(path))
        sizes.append(image.shape[:2])
    if not x:
        raise UserError(f"{folder}: none of its images could be read")
    return Items(np.stack(x), None, ids, hashes, folder.name, skipped=skipped,
                 columns={"image_size": np.asarray(sizes, np.int32), "centre_square": np.stack(squares)}, split="all")


def load_dataset(split: str = "all", *, data_dir: str | Path | None = None, tfds_dir: str | Path | None = None,
                 batch_size: int | None = 32) -> tf.data.Dataset:
    """A `tf.data` pipeline of (128x128x3 float32 letterboxed photo in [-1, 1], int32 index into the
    photos' sorted list): the model's input (the truth comes from MediaPipe's float detector, not from
    labels). Batched unless batch_size is None."""
    import tensorflow as tf

    items = load_items(DataSource.of(data_dir, tfds_dir), split)
    ds = tf.data.Dataset.from_tensor_slices((items.x, np.arange(len(items), dtype=np.int32)))
    return ds.batch(batch_size) if batch_size else ds


def describe(source: DataSource, download: bool = True) -> dict:
    """Photos per top-level folder and the unreadable ones (the Make chain's data step)."""
    items = load_items(source, "all")
    for s in items.skipped:
        print(f"skipped {s['file']}: {s['error']}")
    folders = Counter(Path(i).parts[0] if len(Path(i).parts) > 1 else "." for i in items.ids)
    return {"source": str(Path(source.data_dir).resolve()), "input_size": INPUT_SIZE, "photos": len(items),
            "photos_per_folder": dict(sorted(folders.items())), "skipped": items.skipped}


main = data_step("face_detection")


if __name__ == "__main__":
    from common.cli import run

    run(main)
