"""The user's data for a converted model: a folder of images (any size and common format, resized to
the model's input) or of `.npy` arrays (one sample each, e.g. MFCC features), flat or one sub-folder
per class (labels = the index of the sorted folder names). `--mean/--std` (a scalar or one value per
channel) normalize 0..255 pixels; the default feeds raw 0..255. Each item is known by its path inside
the folder and its sha256 (`common.data.items`), and a seeded split keeps the calibrating files out
of scoring."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from common.data.calibration import calibration_subset
from common.data.images import IMAGE_EXTENSIONS
from common.data.items import Items, relative_id
from common.data.weights import sha256_of
from common.errors import ConversionError, DataLayoutError, ImageError

ARRAY_EXTENSIONS = (".npy",)
DATA_HELP = ("a folder of images (any size: resized to the model input) or of .npy arrays (one sample each), "
             "flat or one sub-folder per class (labels: sorted folder names)")


@dataclass(frozen=True)
class Normalization:
    """x = (pixel - mean) / std, per channel or for all; identity by default (raw 0..255)."""

    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)

    def apply(self, x: np.ndarray) -> np.ndarray:
        channels = x.shape[-1]
        for name, values in (("--mean", self.mean), ("--std", self.std)):
            if len(values) not in (1, channels):
                raise ConversionError(f"{name} has {len(values)} values; the model input has {channels} channels "
                                      "(give one value, or one per channel)")
        if any(s == 0 for s in self.std):
            raise ConversionError("--std must not be 0")
        return ((x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)).astype(np.float32)

    def as_dict(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std)}


def parse_values(text: str) -> tuple[float, ...]:
    """"0.5" or "123.7,116.3,103.5" (commas or spaces)."""
    try:
        values = tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError:
        raise ConversionError(f"{text!r} is not a number or a comma-separated list of numbers") from None
    if not values:
        raise ConversionError("expected a number or a comma-separated list of numbers")
    return values


def list_files(folder: str | os.PathLike) -> tuple[list[Path], list[str]]:
    """Every image or `.npy` file below `folder` (sorted) and the class names (sorted sub-folders holding
    files; empty for a flat folder). One kind of file per folder; an empty folder or class is refused."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataLayoutError(f"--data {folder}: no such folder ({DATA_HELP})")
    kinds = IMAGE_EXTENSIONS + ARRAY_EXTENSIONS
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in kinds
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        raise DataLayoutError(f"--data {folder} holds no image or .npy file ({DATA_HELP})")
    if len({p.suffix.lower() in ARRAY_EXTENSIONS for p in files}) > 1:
        raise DataLayoutError(f"--data {folder} mixes images and .npy arrays: use one kind")
    subfolders = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    top_level = [p for p in files if p.parent == folder]
    if not subfolders or top_level:
        return files, []
    empty = [c for c in subfolders if not any(p.relative_to(folder).parts[0] == c for p in files)]
    if empty:
        raise DataLayoutError(f"--data {folder}: class folder(s) {', '.join(empty)} hold no image or .npy file")
    return files, subfolders


def read_sample(path: Path, input_shape: Sequence[int]) -> np.ndarray:
    """One model input (float32, `input_shape`) from an image (resized, gray or RGB by the channel count;
    0..255) or an `.npy` array (reshaped when its size fits)."""
    if path.suffix.lower() in ARRAY_EXTENSIONS:
        try:
            array = np.load(path, allow_pickle=False).astype(np.float32)
        except (OSError, ValueError) as exc:
            raise ImageError(f"{path}: not a readable .npy array ({exc})") from exc
        if array.size != int(np.prod(input_shape)):
            raise ImageError(f"{path}: array of shape {array.shape} does not fit the model input {tuple(input_shape)}")
        return array.reshape(input_shape)
    from common.data.images import read_image, resize

    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ConversionError(f"images need a model input of shape (height, width, 1 or 3); this one takes "
                              f"{tuple(input_shape)}: give .npy arrays instead")
    image = read_image(path, mode="L" if input_shape[-1] == 1 else "RGB")
    return resize(image, (int(input_shape[0]), int(input_shape[1])))


def read_folder(folder: str | os.PathLike, input_shape: Sequence[int], normalization: Normalization,
                only: set[str] | None = None) -> tuple[Items, list[str]]:
    """The folder as Items (x normalized, y = class index or None) and its class names; unreadable
    files are skipped and listed in `skipped` (never relabelled)."""
    from tqdm import tqdm

    folder = Path(folder)
    files, classes = list_files(folder)
    xs, ys, ids, hashes, skipped = [], [], [], [], []
    for path in tqdm(files, desc="reading data", unit="file", disable=None):
        item = relative_id(path, folder)
        if only is not None and item not in only:
            continue
        try:
            xs.append(read_sample(path, input_shape))
        except ImageError as exc:
            skipped.append({"file": item, "why": str(exc)})
            continue
        ids.append(item)
        hashes.append(sha256_of(path))
        if classes:
            ys.append(classes.index(item.split("/", 1)[0]))
    if not xs:
        raise DataLayoutError(f"--data {folder}: no file could be read ({len(skipped)} skipped: "
                              f"{skipped[0]['why'] if skipped else 'none'})")
    x = normalization.apply(np.stack(xs))
    items = Items(x=x, y=np.asarray(ys, np.int64) if classes else None, ids=ids, hashes=hashes,
                  source=str(folder), skipped=skipped, split="all")
    return items, classes


def split_items(items: Items, fraction: float, seed: int) -> tuple[Items, Items]:
    """(calibration, held-out): a seeded `fraction` of the files calibrates, the rest is scored; with a
    single file there is nothing left to score honestly, so it is refused."""
    if len(items) < 2:
        raise DataLayoutError(f"--data holds {len(items)} readable file: at least 2 are needed (one to calibrate, "
                              "one to score)")
    chosen = set(calibration_subset(items.ids, fraction, seed))
    calibrate = np.array([i in chosen for i in items.ids])
    return items.subset(calibrate), items.subset(~calibrate)
