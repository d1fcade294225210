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
from common.data.images import read_image, read_yolo_folder, resize
from common.data.items import DataSource, Items, relative_id, tfds_ids
from common.data.weights import sha256_of
from common.pipeline.data import step as data_step
from models.yolo.recipe import RECIPE

if TYPE_CHECKING:
    import tensorflow as tf

INPUT_SIZE = RECIPE.input_shape[:2]
PERSON = 0
TFDS_NAME = RECIPE.data.tfds


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


def load_folder(data_dir: str | os.PathLike, limit: int | None = None, only: set[str] | None = None) -> DetectionSet:
    """Every image of a YOLO-layout folder (images/ + labels/; those of `only`, paths relative to the
    folder, when given), person boxes only. An image that cannot be decoded raises ImageError naming
    it (nothing is returned half-read)."""
    items = read_yolo_folder(data_dir)[:limit]
    if only is not None:
        items = [item for item in items if relative_id(item.image, data_dir) in only]
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
    def flip(x, b):
        do = tf.random.uniform((), seed=seed) < 0.5
        x = tf.cond(do, lambda: tf.image.flip_left_right(x), lambda: x)
        b = tf.cond(do, lambda: tf.stack([1 - b[:, 2], b[:, 1], 1 - b[:, 0], b[:, 3]], axis=-1), lambda: b)
        return x, b

    def targets(x, b):
        outs = tf.numpy_function(encode_targets, [b], [tf.float32] * len(TARGET_SHAPES))
        for t, shape in zip(outs, TARGET_SHAPES):
            t.set_shape(shape)
        return x, tuple(outs)

    from common.data.tfds import training_pipeline

    return training_pipeline(ds, batch_size=batch_size, shuffle=shuffle, seed=seed, shuffle_buffer=2048,
                             augment=flip if augment else None, then=targets)


def _check_dir(data_dir: str | os.PathLike | None) -> None:
    if data_dir and not Path(data_dir).is_dir():
        raise FileNotFoundError(f"--data-dir {data_dir}: no such folder (expected a YOLO-layout folder with images/ "
                                "and labels/)")
    if data_dir and not (Path(data_dir) / "images").is_dir():
        raise FileNotFoundError(f"--data-dir {data_dir}: no images/ folder (expected a YOLO-layout folder with images/ "
                                "and labels/; a TFDS data directory goes to --tfds-dir)")


def list_items(source: DataSource, split: str, purpose: str = "evaluate") -> tuple[str, list[str]]:
    """(split, the ids of its images: paths relative to the folder, or TFDS example ids), nothing decoded."""
    _check_dir(source.data_dir)
    if source.data_dir:
        return "all", [relative_id(item.image, source.data_dir) for item in read_yolo_folder(source.data_dir)]
    from common.data.tfds import tfds_builder

    builder = tfds_builder(TFDS_NAME, source.tfds_dir)
    return split, tfds_ids(TFDS_NAME, split, builder.info.splits[split].num_examples)


def load_items(source: DataSource, split: str, *, only: set[str] | None = None, purpose: str = "evaluate") -> Items:
    """The images of `split` (those of `only`) with their person boxes (normalised corners)."""
    _check_dir(source.data_dir)
    if source.data_dir:
        data = load_folder(source.data_dir, only=only)
        return Items(data.x, data.boxes, [relative_id(p, source.data_dir) for p in data.paths],
                     [sha256_of(p) for p in data.paths], Path(source.data_dir).name, columns={"sizes": data.sizes},
                     split="all")
    wanted = None if only is None else sorted(int(i.rsplit("#", 1)[1]) for i in only)
    data = load_tfds(split, tfds_dir=source.tfds_dir, limit=None if wanted is None else wanted[-1] + 1)
    items = Items(data.x, data.boxes, tfds_ids(TFDS_NAME, split, len(data.x)), [""] * len(data.x),
                  f"{TFDS_NAME} {split}", columns={"sizes": data.sizes}, split=split)
    return items if only is None else items.subset([i for i, name in enumerate(items.ids) if name in only])


def describe(source: DataSource, download: bool = True) -> dict:
    """What the evaluation/calibration data holds (the Make chain's data step)."""
    _check_dir(source.data_dir)
    if source.data_dir:
        items = read_yolo_folder(source.data_dir)
        n_person = [int((it.boxes[:, 0] == PERSON).sum()) for it in items]
        return {"dataset": "yolo_folder", "data_dir": str(Path(source.data_dir).resolve()), "images": len(items),
                "images_with_person": sum(n > 0 for n in n_person), "person_boxes": sum(n_person)}
    from common.data.tfds import describe_tfds, tfds_builder

    return describe_tfds(tfds_builder(TFDS_NAME, source.tfds_dir, download=download))

main = data_step("yolo")


if __name__ == "__main__":
    from common.cli import run

    run(main)
