"""Person-detection data for yolo-pico: a YOLO-layout folder (e.g. coco128_person) or TFDS coco/2017.

Preprocessing (the same for calibration, evaluation and training): decode as RGB, plain bilinear
resize of the whole image to 96x96 (no letterbox, no antialias), float pixels / 255 -- the reference int8 file's
input quantization (scale 1/255, zero point -128) turns that into q = pixel - 128.
Boxes are person boxes only (class 0), corners `x_min, y_min, x_max, y_max` normalised 0..1.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common import env  # noqa: F401
from common.atomic import write_json
from common.data.images import read_image, read_yolo_folder, resize
from common.cli import ArgumentParser, add_data_args

if TYPE_CHECKING:
    import tensorflow as tf

INPUT_SIZE = (96, 96)
PERSON = 0
TFDS_NAME = "coco/2017"
FOLDER_HELP = f"YOLO layout images/ + labels/ (class 0 = person; without it: TFDS {TFDS_NAME})"


@dataclass
class DetectionSet:
    x: np.ndarray  # (N, 96, 96, 3) float32 0..1
    boxes: list[np.ndarray]  # per image (n, 4) normalised corners, person only
    paths: list[str]
    sizes: list[tuple[int, int]]  # original (height, width)


def preprocess(image: np.ndarray, size: tuple[int, int] = INPUT_SIZE) -> np.ndarray:
    """uint8 HxWx3 RGB -> float32 size x 3 in 0..1: plain bilinear resize (no antialias), the
    preprocessing with which the Efinix reference's published coco128 number was measured."""
    return (resize(image, size, antialias=False) / 255.0).astype(np.float32)


def yolo_to_corners(labels: np.ndarray, class_id: int = PERSON) -> np.ndarray:
    """(n, 5) YOLO rows [class, cx, cy, w, h] -> (k, 4) corners of `class_id`, clipped to 0..1."""
    rows = labels[labels[:, 0] == class_id]
    cx, cy, w, h = rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]
    return np.clip(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1), 0, 1).astype(np.float32)


def load_folder(data_dir: str | os.PathLike, limit: int | None = None) -> DetectionSet:
    """Every image of a YOLO-layout folder (images/ + labels/), person boxes only.
    An image that cannot be decoded raises ImageError naming it (nothing is returned half-read)."""
    items = read_yolo_folder(data_dir)[:limit]
    xs, boxes, paths, sizes = [], [], [], []
    for item in items:
        image = read_image(item.image, "RGB")
        xs.append(preprocess(image))
        boxes.append(yolo_to_corners(item.boxes))
        paths.append(str(item.image))
        sizes.append(image.shape[:2])
    return DetectionSet(np.stack(xs), boxes, paths, sizes)


def _tfds_person(example) -> tuple:
    """TFDS coco example -> (uint8 image, (k, 4) normalised person corners, not crowd)."""
    import tensorflow as tf

    objects = example["objects"]
    keep = tf.logical_and(tf.equal(objects["label"], PERSON), tf.logical_not(objects["is_crowd"]))
    yx = tf.boolean_mask(objects["bbox"], keep)  # ymin, xmin, ymax, xmax
    corners = tf.stack([yx[:, 1], yx[:, 0], yx[:, 3], yx[:, 2]], axis=-1)
    return example["image"], corners


def load_tfds(split: str = "validation", *, tfds_dir: str | os.PathLike | None = None, limit: int | None = None,
              download: bool = True) -> DetectionSet:
    """`tfds.load("coco/2017")` as a DetectionSet: all images of `split`, person boxes only
    (crowd boxes dropped)."""
    from common.data.tfds import tfds_builder

    ds = tfds_builder(TFDS_NAME, tfds_dir, download=download).as_dataset(split=split, shuffle_files=False)
    if limit:
        ds = ds.take(limit)
    xs, boxes, paths, sizes = [], [], [], []
    for example in ds.map(lambda e: (*_tfds_person(e), e["image/id"])).as_numpy_iterator():
        image, corners, image_id = example
        xs.append(preprocess(image))
        boxes.append(np.asarray(corners, np.float32).reshape(-1, 4))
        paths.append(f"coco/2017/{split}/{int(image_id)}")
        sizes.append(image.shape[:2])
    if not xs:
        raise ValueError(f"{TFDS_NAME} split {split!r} is empty")
    return DetectionSet(np.stack(xs), boxes, paths, sizes)


def load_arrays(data_dir: str | os.PathLike | None = None, *, split: str = "validation",
                tfds_dir: str | os.PathLike | None = None, limit: int | None = None,
                download: bool = True) -> DetectionSet:
    """The YOLO folder `data_dir` (images/ + labels/), else TFDS coco/2017 `split` in `tfds_dir`."""
    _check_dir(data_dir)
    if data_dir:
        return load_folder(data_dir, limit)
    return load_tfds(split, tfds_dir=tfds_dir, limit=limit, download=download)


def load_dataset(
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    tfds_dir: str | os.PathLike | None = None,
    batch_size: int | None = 32,
    shuffle: bool = False,
    augment: bool = False,
    seed: int = 0,
    limit: int | None = None,
    download: bool = True,
) -> tf.data.Dataset:
    """A `tf.data` pipeline of (image 96x96x3 0..1, YOLOv3 targets per head) for training.

    `data_dir` (a YOLO folder, images/ + labels/) reads that folder (all of it; `split` is ignored),
    otherwise TFDS coco/2017 `split` in `tfds_dir`. Targets come from `targets.encode_targets` (best of the six anchors).
    """
    import tensorflow as tf

    from models.yolo.targets import TARGET_SHAPES, encode_targets

    _check_dir(data_dir)
    if data_dir:
        data = load_folder(data_dir, limit)
        ds = tf.data.Dataset.from_generator(
            lambda: zip(data.x, data.boxes),
            output_signature=(tf.TensorSpec((*INPUT_SIZE, 3), tf.float32), tf.TensorSpec((None, 4), tf.float32)),
        )
    else:
        from common.data.tfds import tfds_builder

        ds = tfds_builder(TFDS_NAME, tfds_dir, download=download).as_dataset(split=split, shuffle_files=shuffle)
        if limit:
            ds = ds.take(limit)
        ds = ds.map(_tfds_person, num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.map(lambda im, b: (tf.image.resize(tf.cast(im, tf.float32), INPUT_SIZE, antialias=False) / 255.0, b),
                    num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        ds = ds.shuffle(2048, seed=seed, reshuffle_each_iteration=True)
    if augment:
        def flip(x, b):
            do = tf.random.uniform((), seed=seed) < 0.5
            x = tf.cond(do, lambda: tf.image.flip_left_right(x), lambda: x)
            b = tf.cond(do, lambda: tf.stack([1 - b[:, 2], b[:, 1], 1 - b[:, 0], b[:, 3]], axis=-1), lambda: b)
            return x, b
        ds = ds.map(flip, num_parallel_calls=tf.data.AUTOTUNE)

    def targets(x, b):
        outs = tf.numpy_function(encode_targets, [b], [tf.float32] * len(TARGET_SHAPES))
        for t, shape in zip(outs, TARGET_SHAPES):
            t.set_shape(shape)
        return x, tuple(outs)

    ds = ds.map(targets, num_parallel_calls=tf.data.AUTOTUNE)
    if batch_size:
        ds = ds.batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


def _check_dir(data_dir: str | os.PathLike | None) -> None:
    if data_dir and not Path(data_dir).is_dir():
        raise FileNotFoundError(f"--data-dir {data_dir}: no such folder (expected a YOLO-layout folder with images/ "
                                "and labels/)")
    if data_dir and not (Path(data_dir) / "images").is_dir():
        raise FileNotFoundError(f"--data-dir {data_dir}: no images/ folder (expected a YOLO-layout folder with images/ "
                                "and labels/; a TFDS data directory goes to --tfds-dir)")


def describe(data_dir: str | os.PathLike | None = None, download: bool = True,
             tfds_dir: str | os.PathLike | None = None) -> dict:
    """What the evaluation/calibration data holds (the Make chain's data step)."""
    _check_dir(data_dir)
    if data_dir:
        items = read_yolo_folder(data_dir)
        n_person = [int((it.boxes[:, 0] == PERSON).sum()) for it in items]
        return {"dataset": "yolo_folder", "data_dir": str(Path(data_dir).resolve()), "images": len(items),
                "images_with_person": sum(n > 0 for n in n_person), "person_boxes": sum(n_person)}
    from common.data.tfds import tfds_builder

    builder = tfds_builder(TFDS_NAME, tfds_dir, download=download)
    return {"dataset": TFDS_NAME, "data_dir": str(builder.data_dir),
            "splits": {name: split.num_examples for name, split in builder.info.splits.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description="Check the person-detection data (YOLO folder or TFDS coco/2017) "
                                                 "and record its summary.")
    add_data_args(parser, folder=FOLDER_HELP, tfds=TFDS_NAME)
    parser.add_argument("--out", type=Path, help="write the summary JSON here (atomically)")
    parser.add_argument("--no-download", action="store_true", help="fail instead of downloading TFDS coco")
    args = parser.parse_args(argv)
    summary = describe(args.data_dir, download=not args.no_download, tfds_dir=args.tfds_dir)
    if args.out:
        write_json(args.out, summary)
    print(summary)


if __name__ == "__main__":
    from common.cli import run

    run(main)
