"""Detection data for yolo-pico: a YOLO-layout folder (your classes, `models.yolo.folder`, or the zoo's
person folders such as coco128_person) or TFDS coco/2017 (person).

Preprocessing (the same for calibration, evaluation and training): decode as RGB, plain bilinear
resize of the whole image to the model input (no letterbox, no antialias), float pixels / 255 -- the
reference int8 file's input quantization (scale 1/255, zero point -128) turns that into q = pixel - 128.
Boxes are rows `x_min, y_min, x_max, y_max, class` (corners normalised 0..1). A folder's boxes are all
of its labels' boxes; a model scores and trains on the classes of its heads (`model_boxes`): on the zoo's
person folders (COCO-80 class ids, no classes.txt) the person model's class 0.
A folder's images are split by file (`models.yolo.folder.FOLDER_SPLITS`, or "all"); an image that does
not decode is skipped and listed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from common import env  # noqa: F401
from common.data.images import ImageError, read_image, resize
from common.data.items import DataSource, Items, relative_id, tfds_ids
from common.data.weights import sha256_of
from common.errors import DataLayoutError
from common.pipeline.data import step as data_step
from models.yolo.folder import FOLDER_SPLITS, class_names, folder_split, scan_folder
from models.yolo.recipe import RECIPE

if TYPE_CHECKING:
    import tensorflow as tf

INPUT_SIZE = RECIPE.input_shape[:2]
PERSON = 0
TFDS_NAME = RECIPE.data.tfds


@dataclass
class DetectionSet:
    x: np.ndarray  # (N, H, W, 3) float32 0..1
    boxes: list[np.ndarray]  # per image (n, 5): x_min, y_min, x_max, y_max (normalised), class id
    paths: list[str]
    sizes: list[tuple[int, int]]  # original (height, width)
    skipped: list[dict] = field(default_factory=list)  # {"file", "error"} of each image that did not decode


def preprocess(image: np.ndarray, size: tuple[int, int] = INPUT_SIZE) -> np.ndarray:
    """uint8 HxWx3 RGB -> float32 size x 3 in 0..1: plain bilinear resize (no antialias), the
    preprocessing with which the Efinix reference's published coco128 number was measured."""
    return (resize(image, size, antialias=False) / 255.0).astype(np.float32)


def yolo_to_boxes(labels: np.ndarray) -> np.ndarray:
    """(n, 5) YOLO rows [class, cx, cy, w, h] -> (n, 5) rows [x_min, y_min, x_max, y_max, class], clipped to 0..1."""
    labels = np.asarray(labels, np.float32).reshape(-1, 5)
    cx, cy, w, h = labels[:, 1], labels[:, 2], labels[:, 3], labels[:, 4]
    corners = np.clip(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1), 0, 1)
    return np.c_[corners, labels[:, 0]].astype(np.float32)


def model_boxes(boxes: np.ndarray, num_classes: int) -> np.ndarray:
    """The boxes of a model's classes (ids 0..num_classes-1). A folder of your classes has no others (every
    label is checked against its class list); the zoo's person folders carry COCO's 80 ids, of which the
    person model has class 0."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 5)
    return boxes[boxes[:, 4] < num_classes]


def load_folder(data_dir: str | os.PathLike, limit: int | None = None, only: set[str] | None = None,
                split: str = "all", classes: Sequence[str] | None = None) -> DetectionSet:
    """The images of `split` of a YOLO-layout folder (the first `limit`; those of `only`, paths relative
    to the folder, when given) with all their boxes. `classes` (default: the folder's classes.txt, if
    any) are checked against every label first. An image that cannot be decoded is skipped and listed."""
    data = scan_folder(data_dir, classes if classes is not None else class_names(data_dir))
    xs, boxes, paths, sizes, skipped = [], [], [], [], []
    for k in folder_split(data, split)[:limit]:
        name = relative_id(data.images[k], data.root)
        if only is not None and name not in only:
            continue
        try:
            image = read_image(data.images[k], "RGB")
        except ImageError as exc:
            skipped.append({"file": name, "error": str(exc)})
            continue
        xs.append(preprocess(image))
        boxes.append(yolo_to_boxes(data.labels[k]))
        paths.append(str(data.images[k]))
        sizes.append(image.shape[:2])
    if not xs:
        raise DataLayoutError(f"{data.root}: none of the images of split {split!r} could be read"
                              + (f" (skipped: {', '.join(s['file'] for s in skipped[:3])})" if skipped else ""))
    return DetectionSet(np.stack(xs), boxes, paths, sizes, skipped)


def _tfds_person(example) -> tuple:
    """TFDS coco example -> (uint8 image, (k, 5) normalised person boxes [corners, class 0], not crowd)."""
    import tensorflow as tf

    objects = example["objects"]
    keep = tf.logical_and(tf.equal(objects["label"], PERSON), tf.logical_not(objects["is_crowd"]))
    yx = tf.boolean_mask(objects["bbox"], keep)  # ymin, xmin, ymax, xmax
    boxes = tf.stack([yx[:, 1], yx[:, 0], yx[:, 3], yx[:, 2], tf.zeros_like(yx[:, 0])], axis=-1)
    return example["image"], boxes


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
        image, rows, image_id = example
        xs.append(preprocess(image))
        boxes.append(np.asarray(rows, np.float32).reshape(-1, 5))
        paths.append(f"coco/2017/{split}/{int(image_id)}")
        sizes.append(image.shape[:2])
    if not xs:
        raise ValueError(f"{TFDS_NAME} split {split!r} is empty")
    return DetectionSet(np.stack(xs), boxes, paths, sizes)


def load_arrays(data_dir: str | os.PathLike | None = None, *, split: str = "validation",
                tfds_dir: str | os.PathLike | None = None, limit: int | None = None,
                download: bool = True) -> DetectionSet:
    """All of the YOLO folder `data_dir` (images/ + labels/), else TFDS coco/2017 `split` in `tfds_dir`."""
    if data_dir:
        return load_folder(data_dir, limit)
    return load_tfds(split, tfds_dir=tfds_dir, limit=limit, download=download)


def folder_part(split: str) -> str:
    """A training split as a folder reads it: its own parts (FOLDER_SPLITS) or "all"; TFDS's "validation"
    is the folder's "val"."""
    return {"validation": "val"}.get(split, split)


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
    classes: Sequence[str] | None = None,
) -> tf.data.Dataset:
    """A `tf.data` pipeline of (image 0..1, YOLOv3 targets per head) for training a model of `classes`
    (None: the person model).

    `data_dir` (a YOLO folder, images/ + labels/) reads its part `split` (`folder_part`), otherwise TFDS
    coco/2017 `split` in `tfds_dir`. Targets come from `targets.encode_targets` (best of the six anchors)."""
    import tensorflow as tf

    from models.yolo.targets import encode_targets, target_shapes

    num_classes = len(classes) if classes is not None else len(RECIPE.data.class_names)
    shapes = target_shapes(num_classes)
    if data_dir:
        data = load_folder(data_dir, limit, split=folder_part(split), classes=classes)
        for s in data.skipped:
            print(f"skipped {s['file']}: {s['error']}")
        boxes = [model_boxes(b, num_classes) for b in data.boxes]
        ds = tf.data.Dataset.from_generator(
            lambda: zip(data.x, boxes),
            output_signature=(tf.TensorSpec((*INPUT_SIZE, 3), tf.float32), tf.TensorSpec((None, 5), tf.float32)),
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
        b = tf.cond(do, lambda: tf.stack([1 - b[:, 2], b[:, 1], 1 - b[:, 0], b[:, 3], b[:, 4]], axis=-1), lambda: b)
        return x, b

    def targets(x, b):
        outs = tf.numpy_function(lambda rows: encode_targets(rows, num_classes), [b], [tf.float32] * len(shapes))
        for t, shape in zip(outs, shapes):
            t.set_shape(shape)
        return x, tuple(outs)

    from common.data.tfds import training_pipeline

    return training_pipeline(ds, batch_size=batch_size, shuffle=shuffle, seed=seed, shuffle_buffer=2048,
                             augment=flip if augment else None, then=targets)


def list_items(source: DataSource, split: str, purpose: str = "evaluate") -> tuple[str, list[str]]:
    """(split, the ids of its images: paths relative to the folder, or TFDS example ids), nothing decoded."""
    if source.data_dir:
        data = scan_folder(source.data_dir, class_names(source.data_dir))
        return split, [relative_id(data.images[k], data.root) for k in folder_split(data, split)]
    from common.data.tfds import tfds_builder

    builder = tfds_builder(TFDS_NAME, source.tfds_dir)
    return split, tfds_ids(TFDS_NAME, split, builder.info.splits[split].num_examples)


def load_items(source: DataSource, split: str, *, only: set[str] | None = None, purpose: str = "evaluate") -> Items:
    """The images of `split` (those of `only`) with their boxes (`x_min, y_min, x_max, y_max, class`)."""
    if source.data_dir:
        data = load_folder(source.data_dir, only=only, split=split)
        return Items(data.x, data.boxes, [relative_id(p, source.data_dir) for p in data.paths],
                     [sha256_of(p) for p in data.paths], Path(source.data_dir).name, columns={"sizes": data.sizes},
                     split=split, skipped=data.skipped)
    wanted = None if only is None else sorted(int(i.rsplit("#", 1)[1]) for i in only)
    data = load_tfds(split, tfds_dir=source.tfds_dir, limit=None if wanted is None else wanted[-1] + 1)
    items = Items(data.x, data.boxes, tfds_ids(TFDS_NAME, split, len(data.x)), [""] * len(data.x),
                  f"{TFDS_NAME} {split}", columns={"sizes": data.sizes}, split=split)
    return items if only is None else items.subset([i for i, name in enumerate(items.ids) if name in only])


def describe(source: DataSource, download: bool = True) -> dict:
    """What the evaluation/calibration data holds (the Make chain's data step)."""
    if source.data_dir:
        classes = class_names(source.data_dir)
        data = scan_folder(source.data_dir, classes)
        summary = {"dataset": "yolo_folder", "data_dir": str(data.root.resolve()), "images": len(data.images)}
        if classes is None:  # the zoo's person folder: COCO class ids, class 0 = person
            n_person = [int((rows[:, 0] == PERSON).sum()) for rows in data.labels]
            return {**summary, "images_with_person": sum(n > 0 for n in n_person), "person_boxes": sum(n_person)}
        return {**summary, "class_names": list(classes), "boxes_per_class": data.counts(),
                "splits": {name: len(folder_split(data, name)) for name in FOLDER_SPLITS}}
    from common.data.tfds import describe_tfds, tfds_builder

    return describe_tfds(tfds_builder(TFDS_NAME, source.tfds_dir, download=download))


main = data_step("yolo")


if __name__ == "__main__":
    from common.cli import run

    run(main)
