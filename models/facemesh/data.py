"""Face crops for the landmark model from a folder of photos.

Each image is searched with MediaPipe's short-range face detector (`models.facemesh.detector`; the
best-scoring face is kept), cropped to a square of 1.5x the face box around its centre (MediaPipe's
landmark ROI, without the eye-line rotation), and resized to 192x192 RGB in [0, 1]. Images without a
face are reported and skipped.

Splits are by image file so no photo feeds both calibration and evaluation: in each sub-folder,
every 3rd image (sorted by name, starting with the first) is `calibration`, the rest `evaluation`.
Without --data-dir the photos come from TFDS `lfw` (calibration train[:100], evaluation
train[100:400]) where it is prepared or can be downloaded.

    python -m models.facemesh.data --data-dir ../shared/data/faces --out build/facemesh/data.json
"""
from __future__ import annotations

import argparse
import os
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import numpy as np

from common import env  # noqa: F401
from common.atomic import write_json
from common.data.images import IMAGE_EXTENSIONS, ImageError, read_image, resize
from models.facemesh.detector import FaceDetector
from common.cli import ArgumentParser, add_data_args

if TYPE_CHECKING:
    import tensorflow as tf

CROP_SIZE = 192
CROP_SCALE = 1.5  # MediaPipe's face-landmark ROI: 1.5x the detection box, square
SPLITS = ("calibration", "evaluation", "all")
CALIBRATION_EVERY = 3


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
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{data_dir}: no such folder of face photos (give --data-dir)")
    images = sorted(p for p in data_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        raise FileNotFoundError(f"{data_dir}: no images ({', '.join(IMAGE_EXTENSIONS)})")
    return images


def split_of(images: list[Path]) -> dict[Path, str]:
    """calibration for every CALIBRATION_EVERY-th image of each folder (sorted), evaluation otherwise."""
    by_folder: dict[Path, list[Path]] = {}
    for p in images:
        by_folder.setdefault(p.parent, []).append(p)
    return {p: ("calibration" if i % CALIBRATION_EVERY == 0 else "evaluation")
            for files in by_folder.values() for i, p in enumerate(sorted(files))}


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


TFDS_NAME = "lfw"  # the default source where TFDS has it prepared (or can download it)
TFDS_SPLITS = {"calibration": "train[:100]", "evaluation": "train[100:400]", "all": "train[:400]"}


def _folder_items(data_dir: str, split: str) -> Iterator[tuple[str, Callable[[], np.ndarray]]]:
    images = list_face_images(data_dir)
    splits = split_of(images)
    for path in images:
        if split == "all" or splits[path] == split:
            yield str(path), (lambda p=path: read_image(p, "RGB"))


def _tfds_items(name: str, split: str, tfds_dir: str | None) -> Iterator[tuple[str, Callable[[], np.ndarray]]]:
    from common.data.tfds import DatasetMissingError, tfds_builder

    tfds_split = TFDS_SPLITS[split]
    try:
        builder = tfds_builder(name, tfds_dir)
    except DatasetMissingError as exc:
        raise DatasetMissingError(f"{exc}\nOr use a folder of face photos instead: --data-dir <folder> "
                                  "(make: FACEMESH_DATA_DIR=<folder>).") from exc
    dataset = builder.as_dataset(split=tfds_split, shuffle_files=False)
    for i, example in enumerate(dataset.as_numpy_iterator()):
        image = np.asarray(example["image"])
        image = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
        yield f"{name}/{tfds_split}#{i}", (lambda im=image: im)


def _crop_faces(items: Iterable[tuple[str, Callable[[], np.ndarray]]], detector: FaceDetector, where: str,
                split: str) -> FaceCrops:
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
        raise NoFaceError(f"{where}: no face found in any of the {split} images")
    return FaceCrops(np.stack(crops), sources, np.asarray(boxes, np.float32), np.asarray(scores, np.float32),
                     np.stack(wholes), skipped)


@lru_cache(maxsize=4)
def _load(data_dir: str | None, split: str, detector_path: str | None, tfds_name: str,
          tfds_dir: str | None) -> FaceCrops:
    detector = FaceDetector(detector_path)
    if data_dir is not None:
        return _crop_faces(_folder_items(data_dir, split), detector, data_dir, split)
    return _crop_faces(_tfds_items(tfds_name, split, tfds_dir), detector, f"TFDS {tfds_name}", split)


def load_face_crops(split: str = "all", *, data_dir: str | os.PathLike | None = None,
                    tfds_dir: str | os.PathLike | None = None, detector_path: str | os.PathLike | None = None,
                    tfds_name: str = TFDS_NAME) -> FaceCrops:
    """Face crops of the images of `split` ("calibration", "evaluation" or "all") below `data_dir`,
    or, without `data_dir`, of TFDS `tfds_name` (default lfw; `TFDS_SPLITS` says which slices).
    The rich structure (whole photos, sources, skipped images) that quantize and evaluate use;
    `load_dataset` is the tf.data view. Cached: the same arguments return the same object."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return _load(str(Path(data_dir).resolve()) if data_dir is not None else None, split,
                 str(detector_path) if detector_path else None, tfds_name,
                 str(tfds_dir) if tfds_dir else None)


def load_dataset(split: str = "all", *, data_dir: str | os.PathLike | None = None,
                 tfds_dir: str | os.PathLike | None = None, batch_size: int | None = 32,
                 detector_path: str | os.PathLike | None = None, tfds_name: str = TFDS_NAME) -> tf.data.Dataset:
    """A `tf.data` pipeline of (192x192x3 float32 RGB 0..1 face crop, int32 source index): the
    model's input, and the crop's index into `load_face_crops(<same arguments>).sources` (there are
    no ground-truth landmarks; the reference is MediaPipe's own model). Batched unless batch_size is
    None. Same splits and sources as `load_face_crops`, in the same order."""
    import tensorflow as tf

    crops = load_face_crops(split, data_dir=data_dir, tfds_dir=tfds_dir, detector_path=detector_path,
                            tfds_name=tfds_name)
    ds = tf.data.Dataset.from_tensor_slices((crops.images, np.arange(len(crops), dtype=np.int32)))
    return ds.batch(batch_size) if batch_size else ds


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


def describe(data_dir: str | os.PathLike | None = None, tfds_dir: str | os.PathLike | None = None) -> dict:
    """Per-split face counts and skipped images (the Make chain's data step)."""
    summary: dict = {"source": str(data_dir) if data_dir else f"tfds:{TFDS_NAME}", "crop_size": CROP_SIZE,
                     "crop_scale": CROP_SCALE, "splits": {}}
    for split in ("calibration", "evaluation"):
        crops = load_face_crops(split, data_dir=data_dir, tfds_dir=tfds_dir)
        summary["splits"][split] = {"faces": len(crops), "images": crops.sources, "skipped": crops.skipped}
    return summary


def add_source_args(parser: argparse.ArgumentParser) -> None:
    """--data-dir / --tfds-dir (common.cli.add_data_args), shared by the data, quantize and evaluate CLIs."""
    add_data_args(parser, folder=f"face photos, searched recursively (without it: TFDS {TFDS_NAME}, {TFDS_SPLITS})",
                  tfds=TFDS_NAME)


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__)
    add_source_args(parser)
    parser.add_argument("--out", type=Path, help="write the summary JSON here (atomically)")
    args = parser.parse_args(argv)
    summary = describe(args.data_dir, args.tfds_dir)
    if args.out:
        write_json(args.out, summary)
    for split, info in summary["splits"].items():
        print(f"{split}: {info['faces']} faces, {len(info['skipped'])} images skipped")
        for s in info["skipped"]:
            print(f"  skipped {s['image']}: {s['reason']}")


if __name__ == "__main__":
    from common.cli import run

    run(main)
